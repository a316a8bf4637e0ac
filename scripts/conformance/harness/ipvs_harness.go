//go:build linux

// ipvsnet's conformance harness, added to k8s.io/kubernetes/pkg/proxy/ipvs with `go build -overlay`
// (scripts/conformance/build-harness.sh) so it can build kube-proxy's own IPVS Proxier around the
// fake kernel interfaces kubernetes ships for its tests (FakeIPVS, the fake ipset, the fake iptables,
// the fake netlink handle). It is ipvsnet's code, not part of kubernetes: one generated cluster in
// (a JSON line), two syncs of kube-proxy from an empty node (its steady state), one JSON line out
// describing the kernel state the proxier left behind.

package ipvs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/proxy"
	"k8s.io/kubernetes/pkg/proxy/apis"
	"k8s.io/kubernetes/pkg/proxy/conntrack"
	"k8s.io/kubernetes/pkg/proxy/healthcheck"
	ipsettest "k8s.io/kubernetes/pkg/proxy/ipvs/ipset/testing"
	netlinktest "k8s.io/kubernetes/pkg/proxy/ipvs/testing"
	ipvstest "k8s.io/kubernetes/pkg/proxy/ipvs/util/testing"
	"k8s.io/kubernetes/pkg/proxy/runner"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
	utiliptables "k8s.io/kubernetes/pkg/util/iptables"
	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
	utilnode "k8s.io/kubernetes/pkg/util/node"
	netutils "k8s.io/utils/net"
)

// ConformanceConfig is the part of KubeProxyConfiguration the generated clusters vary.
type ConformanceConfig struct {
	NodeName          string   `json:"nodeName"`
	ClusterCIDRs      []string `json:"clusterCIDRs"`
	MasqueradeAll     bool     `json:"masqueradeAll"`
	MasqueradeBit     *int     `json:"masqueradeBit"`
	Scheduler         string   `json:"scheduler"`
	NodePortAddresses []string `json:"nodePortAddresses"`
}

// ConformanceCluster is one input line.
type ConformanceCluster struct {
	Seed           int64                      `json:"seed"`
	Config         ConformanceConfig          `json:"config"`
	Services       []*v1.Service              `json:"services"`
	EndpointSlices []*discovery.EndpointSlice `json:"endpointSlices"`
	Node           *v1.Node                   `json:"node"`
}

type confRealServer struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	Weight  int    `json:"weight"`
}

type confVirtualServer struct {
	Address     string           `json:"address"`
	Port        uint16           `json:"port"`
	Protocol    string           `json:"protocol"`
	Scheduler   string           `json:"scheduler"`
	Flags       uint32           `json:"flags"`
	Timeout     uint32           `json:"timeout"`
	Netmask     int              `json:"netmask"`
	RealServers []confRealServer `json:"realServers"`
}

type confHealthCheck struct {
	Port           uint16 `json:"port"`
	LocalEndpoints int    `json:"localEndpoints"`
}

// ConformanceFamily is the state one family's proxier left behind.
type ConformanceFamily struct {
	VirtualServers []confVirtualServer `json:"virtualServers"`
	Bound          []string            `json:"bound"`
	Ipsets         map[string][]string `json:"ipsets"`
	// IpsetTypes: set name → "TYPE family FAMILY" as `ipset create` gets them ("bitmap:port" alone).
	IpsetTypes map[string]string `json:"ipsetTypes"`
	// Iptables: table → chain → rules (as iptables-save prints them), for every chain of nat and filter.
	Iptables     map[string]map[string][]string `json:"iptables"`
	HealthChecks map[string]confHealthCheck     `json:"healthChecks"`
}

// ConformanceResult is one output line.
type ConformanceResult struct {
	Seed     int64                         `json:"seed"`
	Families map[string]*ConformanceFamily `json:"families"`
	Logs     []string                      `json:"logs,omitempty"`
	Error    string                        `json:"error,omitempty"`
}

// ConformanceRun reads clusters (JSON lines) from in and writes one result line per cluster to out.
func ConformanceRun(in io.Reader, out io.Writer) error {
	var logs []string
	logger := funcr.New(func(prefix, args string) { logs = append(logs, strings.TrimSpace(prefix+" "+args)) }, funcr.Options{Verbosity: 0})
	klog.SetLogger(logger)
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<20))
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for {
		var c ConformanceCluster
		if err := dec.Decode(&c); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("conformance harness: bad input line: %w", err)
		}
		logs = nil
		res := ConformanceResult{Seed: c.Seed, Families: map[string]*ConformanceFamily{}}
		for _, family := range []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol} {
			f, err := conformanceSync(&c, family, logger)
			if err != nil {
				res.Error = err.Error()
				break
			}
			res.Families[string(family)] = f
		}
		res.Logs = logs
		if err := enc.Encode(&res); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// conformanceNodeIPs is kube-proxy's detectNodeIPs (cmd/kube-proxy/app/server.go) without a bind
// address: the Node's host IPs (pkg/util/node GetNodeHostIPs), loopback for a family it lacks.
func conformanceNodeIPs(node *v1.Node) map[v1.IPFamily]net.IP {
	ips := map[v1.IPFamily]net.IP{v1.IPv4Protocol: net.IPv4(127, 0, 0, 1), v1.IPv6Protocol: net.IPv6loopback}
	if node == nil {
		return ips
	}
	raw, _ := utilnode.GetNodeHostIPs(node)
	for _, ip := range raw {
		if netutils.IsIPv4(ip) {
			ips[v1.IPv4Protocol] = ip
		} else {
			ips[v1.IPv6Protocol] = ip
		}
	}
	return ips
}

// conformanceNodePortAddresses is kube-proxy's expandNodePortAddressKeywords for "primary".
func conformanceNodePortAddresses(spec []string, nodeIPs map[v1.IPFamily]net.IP) []string {
	var out []string
	for _, a := range spec {
		if a != "primary" {
			out = append(out, a)
			continue
		}
		if ip := nodeIPs[v1.IPv4Protocol]; !ip.IsLoopback() {
			out = append(out, ip.String()+"/32")
		}
		if ip := nodeIPs[v1.IPv6Protocol]; !ip.IsLoopback() {
			out = append(out, ip.String()+"/128")
		}
	}
	return out
}

// conformanceProxier builds one family's Proxier the way NewProxier does, with fakes for the kernel.
// The node's interfaces carry exactly the Node object's addresses (plus loopback).
func conformanceProxier(c *ConformanceCluster, family v1.IPFamily, logger klog.Logger) (*Proxier, *ipvstest.FakeIPVS, *ipsettest.FakeIPSet, *netlinktest.FakeNetlinkHandle, *iptablestest.FakeIPTables) {
	isV6 := family == v1.IPv6Protocol
	var nodeAddrs []string
	if c.Node != nil {
		for _, a := range c.Node.Status.Addresses {
			if a.Type == v1.NodeInternalIP || a.Type == v1.NodeExternalIP {
				nodeAddrs = append(nodeAddrs, a.Address)
			}
		}
	}
	nl := netlinktest.NewFakeNetlinkHandle(isV6)
	_ = nl.SetLocalAddresses("lo", "127.0.0.1", "::1")
	_ = nl.SetLocalAddresses("eth0", nodeAddrs...)
	nw := conformanceInterfaces{nl}

	ipt := iptablestest.NewFake()
	if isV6 {
		ipt = iptablestest.NewIPv6Fake()
	}
	ipvs := ipvstest.NewFake()
	ipset := ipsettest.NewFake("7.1")
	nodeIPs := conformanceNodeIPs(c.Node)

	localDetector := proxyutil.NewNoOpLocalDetector()
	for _, cidr := range c.Config.ClusterCIDRs {
		if netutils.IsIPv6CIDRString(cidr) == isV6 {
			localDetector = proxyutil.NewDetectLocalByCIDR(cidr)
			break
		}
	}
	scheduler := c.Config.Scheduler
	if scheduler == "" {
		scheduler = defaultScheduler
	}
	bit := 14 // kube-proxy's default --iptables-masquerade-bit
	if c.Config.MasqueradeBit != nil {
		bit = *c.Config.MasqueradeBit
	}
	ipsetList := make(map[string]*IPSet)
	for _, is := range ipsetInfo {
		ipsetList[is.name] = NewIPSet(ipset, is.name, is.setType, isV6, is.comment)
	}
	p := &Proxier{
		ipFamily:              family,
		svcPortMap:            make(proxy.ServicePortMap),
		serviceChanges:        proxy.NewServiceChangeTracker(family, newServiceInfo, nil),
		endpointsMap:          make(proxy.EndpointsMap),
		endpointsChanges:      proxy.NewEndpointsChangeTracker(family, c.Config.NodeName, nil, nil),
		initialSync:           true,
		iptables:              ipt,
		masqueradeAll:         c.Config.MasqueradeAll,
		masqueradeMark:        fmt.Sprintf("%#08x", 1<<uint(bit)),
		conntrack:             conntrack.NewFake(),
		localDetector:         localDetector,
		nodeName:              c.Config.NodeName,
		nodeIP:                nodeIPs[family],
		serviceHealthServer:   healthcheck.NewFakeServiceHealthServer(),
		ipvs:                  ipvs,
		ipvsScheduler:         scheduler,
		iptablesData:          bytes.NewBuffer(nil),
		filterChainsData:      bytes.NewBuffer(nil),
		natChains:             proxyutil.NewLineBuffer(),
		natRules:              proxyutil.NewLineBuffer(),
		filterChains:          proxyutil.NewLineBuffer(),
		filterRules:           proxyutil.NewLineBuffer(),
		netlinkHandle:         nl,
		ipset:                 ipset,
		ipsetList:             ipsetList,
		nodePortAddresses:     proxyutil.NewNodePortAddresses(family, conformanceNodePortAddresses(c.Config.NodePortAddresses, nodeIPs)),
		networkInterfacer:     nw,
		gracefuldeleteManager: NewGracefulTerminationManager(ipvs),
		logger:                logger,
	}
	p.syncRunner = runner.NewBoundedFrequencyRunner("conformance", p.syncProxyRules, 0, time.Hour, time.Hour)
	return p, ipvs, ipset, nl, ipt
}

// conformanceInterfaces is the node's interface addresses as net.InterfaceAddrs() lists them (the
// proxier's RealNetwork): every address of every device, kube-ipvs0's included, read from the same
// fake netlink handle the proxier binds service addresses with.
type conformanceInterfaces struct {
	nl *netlinktest.FakeNetlinkHandle
}

func (c conformanceInterfaces) InterfaceAddrs() ([]net.Addr, error) {
	var out []net.Addr
	for _, dev := range []string{"lo", "eth0", defaultDummyDevice} {
		addrs, err := c.nl.ListBindAddress(dev)
		if err != nil {
			continue // kube-ipvs0 before the first sync
		}
		for _, a := range addrs {
			if ip := netutils.ParseIPSloppy(a); ip != nil {
				bits := 128
				if ip.To4() != nil {
					ip, bits = ip.To4(), 32
				}
				out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			}
		}
	}
	return out, nil
}

// The informers' label selectors of cmd/kube-proxy/app/server.go (kube-proxy without a proxy name).
var (
	conformanceNoProxyName, _        = labels.NewRequirement(apis.LabelServiceProxyName, selection.DoesNotExist, nil)
	conformanceNoHeadless, _         = labels.NewRequirement(v1.IsHeadlessService, selection.DoesNotExist, nil)
	conformanceServiceSelector       = labels.NewSelector().Add(*conformanceNoProxyName)
	conformanceEndpointSliceSelector = labels.NewSelector().Add(*conformanceNoHeadless)
)

func conformanceSync(c *ConformanceCluster, family v1.IPFamily, logger klog.Logger) (*ConformanceFamily, error) {
	p, ipvs, ipset, nl, ipt := conformanceProxier(c, family, logger)
	for _, s := range c.Services {
		if conformanceServiceSelector.Matches(labels.Set(s.Labels)) {
			p.OnServiceAdd(s)
		}
	}
	for _, s := range c.EndpointSlices {
		if conformanceEndpointSliceSelector.Matches(labels.Set(s.Labels)) {
			p.OnEndpointSliceAdd(s)
		}
	}
	if c.Node != nil {
		// NodeTopologyConfig hands the proxier the node's topology labels.
		p.topologyLabels = map[string]string{}
		if z, ok := c.Node.Labels[v1.LabelTopologyZone]; ok {
			p.topologyLabels[v1.LabelTopologyZone] = z
		}
	}
	p.servicesSynced = true
	p.endpointSlicesSynced = true
	p.setInitialized(true)
	// Two syncs: the state kube-proxy keeps from its second sync on (the first starts from an empty
	// kube-ipvs0, which the second's interface addresses include).
	for i := 0; i < 2; i++ {
		if err := p.syncProxyRules(); err != nil {
			return nil, fmt.Errorf("syncProxyRules (%s): %w", family, err)
		}
	}
	return conformanceCollect(p, family, ipvs, ipset, nl, ipt)
}

func conformanceCollect(p *Proxier, family v1.IPFamily, ipvs *ipvstest.FakeIPVS, ipset *ipsettest.FakeIPSet, nl *netlinktest.FakeNetlinkHandle, ipt *iptablestest.FakeIPTables) (*ConformanceFamily, error) {
	f := &ConformanceFamily{Ipsets: map[string][]string{}, IpsetTypes: map[string]string{}, Iptables: map[string]map[string][]string{}, HealthChecks: map[string]confHealthCheck{}}
	netmask := 32
	if family == v1.IPv6Protocol {
		netmask = 128 // toIPVSService: 0xffffffff for IPv4 (a /32), 128 for IPv6
	}
	for key, vs := range ipvs.Services {
		out := confVirtualServer{Address: vs.Address.String(), Port: vs.Port, Protocol: vs.Protocol, Scheduler: vs.Scheduler, Flags: uint32(vs.Flags), Timeout: vs.Timeout, Netmask: netmask, RealServers: []confRealServer{}}
		for _, rs := range ipvs.Destinations[key] {
			out.RealServers = append(out.RealServers, confRealServer{Address: rs.Address.String(), Port: rs.Port, Weight: rs.Weight})
		}
		sort.Slice(out.RealServers, func(i, j int) bool {
			a, b := out.RealServers[i], out.RealServers[j]
			return a.Address < b.Address || (a.Address == b.Address && a.Port < b.Port)
		})
		f.VirtualServers = append(f.VirtualServers, out)
	}
	sort.Slice(f.VirtualServers, func(i, j int) bool {
		a, b := f.VirtualServers[i], f.VirtualServers[j]
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		return a.Port < b.Port
	})
	bound, err := nl.GetLocalAddresses(defaultDummyDevice)
	if err != nil {
		return nil, err
	}
	f.Bound = sets2sorted(bound.UnsortedList())
	for name, set := range ipset.Sets {
		f.Ipsets[name] = sets2sorted(ipset.Entries[name].UnsortedList())
		f.IpsetTypes[name] = string(set.SetType)
		if set.SetType != "bitmap:port" { // createSet passes a family to the hash types only
			f.IpsetTypes[name] += " family " + set.HashFamily
		}
	}
	for _, table := range []utiliptables.Table{utiliptables.TableNAT, utiliptables.TableFilter} {
		t, err := ipt.Dump.GetTable(table)
		if err != nil {
			return nil, err
		}
		chains := map[string][]string{}
		for _, ch := range t.Chains {
			rules := []string{}
			for _, r := range ch.Rules {
				rules = append(rules, r.Raw)
			}
			chains[string(ch.Name)] = rules
		}
		f.Iptables[string(table)] = chains
	}
	local := p.endpointsMap.LocalReadyEndpoints()
	for nsn, port := range p.svcPortMap.HealthCheckNodePorts() {
		f.HealthChecks[nsn.String()] = confHealthCheck{Port: port, LocalEndpoints: local[nsn]}
	}
	return f, nil
}

func sets2sorted(l []string) []string {
	if l == nil {
		l = []string{}
	}
	sort.Strings(l)
	return l
}
