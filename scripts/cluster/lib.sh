# Shared by the cluster lane and the demo (sourced).
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
apiserver_binary() { echo "${IPVSNET_CACHE:-$HOME/.cache/ipvsnet}/kube-apiserver-$K8S_VERSION"; }
