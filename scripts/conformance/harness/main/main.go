// The conformance harness's command: JSON lines of generated clusters on stdin, one JSON line of
// kube-proxy's IPVS proxier state per cluster on stdout (see ../ipvs_harness.go).
package main

import (
	"fmt"
	"os"

	"k8s.io/kubernetes/pkg/proxy/ipvs"
)

func main() {
	if err := ipvs.ConformanceRun(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
