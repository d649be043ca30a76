package harden

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// kubeadmConfig is the part of kubeadm's v1beta4 ClusterConfiguration the plan maps to.
type kubeadmConfig struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	APIServer  *kubeadmComponent `yaml:"apiServer,omitempty"`
	Etcd       *kubeadmEtcd      `yaml:"etcd,omitempty"`
}

// kubeadmArg is one item of v1beta4's extraArgs list.
type kubeadmArg struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type kubeadmVolume struct {
	Name      string `yaml:"name"`
	HostPath  string `yaml:"hostPath"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
	PathType  string `yaml:"pathType,omitempty"`
}

type kubeadmComponent struct {
	ExtraArgs    []kubeadmArg    `yaml:"extraArgs,omitempty"`
	ExtraVolumes []kubeadmVolume `yaml:"extraVolumes,omitempty"`
}

type kubeadmEtcd struct {
	Local kubeadmComponent `yaml:"local"`
}

// KubeadmPatch returns the plan's manifest edits as kubeadm ClusterConfiguration
// fields (kubeadm.k8s.io/v1beta4): every flag the plan adds or changes as
// apiServer.extraArgs and etcd.local.extraArgs (lists of name and value), and every
// hostPath volume it adds to kube-apiserver as apiServer.extraVolumes. What kubeadm's
// configuration cannot say (a flag removed, a volume added to etcd) is written as a
// comment. It holds paths, never secrets.
func KubeadmPatch(r *Result) ([]byte, error) {
	var notes []string
	cfg := kubeadmConfig{APIVersion: "kubeadm.k8s.io/v1beta4", Kind: "ClusterConfiguration"}
	ps, err := r.planned()
	if err != nil {
		return nil, err
	}
	if c, n := componentDiff(r.State.APIServer, ps.APIServer, true); c != nil {
		cfg.APIServer, notes = c, append(notes, n...)
	}
	if c, n := componentDiff(r.State.Etcd, ps.Etcd, false); c != nil {
		cfg.Etcd, notes = &kubeadmEtcd{Local: *c}, append(notes, n...)
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(`# The hardening of this plan as kubeadm ClusterConfiguration fields (etcd-harden).
#
# Why: kubeadm upgrade writes the static pod manifests again from the cluster's
# ClusterConfiguration and drops edits made by hand (kubernetes/kubeadm#2867, #541), so
# after an upgrade etcd and kube-apiserver would lose the flags below. Before the next
# upgrade, merge these fields into the ClusterConfiguration stored in the cluster
# (kubectl -n kube-system edit configmap kubeadm-config) and check the result with
# kubeadm upgrade diff. A v1beta3 configuration writes extraArgs as a map (name: value).
#
# kubeadm already sets most etcd TLS flags itself; listed here is what this plan sets.
# The files the flags name (certificates, keys, the encryption config) are not part of
# the configuration: keep them on every control-plane node.
`)
	for _, n := range notes {
		b.WriteString("#\n# Note: " + n + "\n")
	}
	b.WriteString("\n")
	b.Write(body.Bytes())
	return []byte(b.String()), nil
}

// componentDiff returns the flags and volumes planned for a component that it did not
// have before; nil when there are none.
func componentDiff(old, nw *discover.Manifest, volumes bool) (*kubeadmComponent, []string) {
	if old == nil || nw == nil || old == nw {
		return nil, nil
	}
	c := &kubeadmComponent{}
	var notes []string
	seen := map[string]bool{}
	for _, f := range nw.Flags {
		if seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		v, _ := nw.Flag(f.Name)
		if !f.HasValue {
			v = "true"
		}
		if ov, ok := old.Flag(f.Name); ok && ov == v {
			continue
		}
		c.ExtraArgs = append(c.ExtraArgs, kubeadmArg{Name: f.Name, Value: v})
	}
	for _, f := range old.Flags {
		if nw.FlagCount(f.Name) == 0 && !seen["-"+f.Name] {
			seen["-"+f.Name] = true
			notes = append(notes, fmt.Sprintf("the plan removes --%s from %s; remove it from the configuration too if it is there.", f.Name, old.RelPath))
		}
	}
	for _, v := range newHostPaths(old, nw) {
		if volumes {
			c.ExtraVolumes = append(c.ExtraVolumes, v)
		} else {
			notes = append(notes, fmt.Sprintf("the plan mounts %s into etcd (volume %s); kubeadm's etcd configuration has no extraVolumes, so keep the files under /etc/kubernetes/pki/etcd, which kubeadm mounts.", v.HostPath, v.Name))
		}
	}
	if len(c.ExtraArgs) == 0 && len(c.ExtraVolumes) == 0 {
		return nil, notes
	}
	return c, notes
}

// newHostPaths returns the hostPath volumes of nw that old does not have, with the
// container's mount of each.
func newHostPaths(old, nw *discover.Manifest) []kubeadmVolume {
	had := map[string]bool{}
	for _, v := range old.Pod.Spec.Volumes {
		had[v.Name] = true
	}
	var out []kubeadmVolume
	for _, v := range nw.Pod.Spec.Volumes {
		if had[v.Name] || v.HostPath == nil {
			continue
		}
		kv := kubeadmVolume{Name: v.Name, HostPath: v.HostPath.Path}
		if v.HostPath.Type != nil {
			kv.PathType = string(*v.HostPath.Type)
		}
		if kv.PathType == "" {
			kv.PathType = string(corev1.HostPathDirectoryOrCreate)
		}
		for _, m := range nw.ContainerSpec().VolumeMounts {
			if m.Name == v.Name {
				kv.MountPath, kv.ReadOnly = m.MountPath, m.ReadOnly
				break
			}
		}
		if kv.MountPath == "" {
			kv.MountPath = kv.HostPath
		}
		out = append(out, kv)
	}
	return out
}
