package audit

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

func (a *auditor) manifestMode() result {
	p := a.s.Etcd.Path
	fi, err := os.Stat(p)
	if err != nil {
		return result{status: Warn, detail: fmt.Sprintf("cannot stat %s: %v", p, err), target: p}
	}
	mode := fi.Mode().Perm()
	if mode&^0o600 != 0 {
		return result{status: Fail, detail: fmt.Sprintf("mode %04o: others than the owner can read or change the etcd pod spec", mode),
			fix: "chmod 600 " + p, target: p}
	}
	return result{status: Pass, detail: fmt.Sprintf("mode %04o", mode), target: p}
}

func (a *auditor) dataDirMode() result {
	m := a.s.Etcd
	dir, ok, from := a.etcd("data-dir")
	if !ok || dir == "" {
		return result{status: Warn, detail: "--data-dir is not set: etcd keeps its data in <name>.etcd in its working directory, which this check cannot find",
			fix: fmt.Sprintf("In %s set --data-dir=/var/lib/etcd (on a hostPath volume)", m.Path), target: m.Path}
	}
	host, mapped := m.HostPath(dir)
	if !mapped {
		return result{status: Warn, detail: fmt.Sprintf("%s=%s is not on a hostPath volume of the etcd pod: cannot find it on the host", from, dir),
			fix: fmt.Sprintf("In %s mount the data directory from the host with a hostPath volume", m.Path), target: m.Path}
	}
	fi, err := os.Stat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return result{status: Warn, detail: fmt.Sprintf("%s (%s=%s) does not exist yet; etcd creates it with mode 0700", host, from, dir), target: host}
	case err != nil:
		return result{status: Warn, detail: fmt.Sprintf("cannot stat %s: %v", host, err), target: host}
	case !fi.IsDir():
		return result{status: Fail, detail: fmt.Sprintf("%s (%s=%s) is not a directory", host, from, dir),
			fix: fmt.Sprintf("Point %s in %s at etcd's data directory", from, m.Path), target: host}
	}
	mode := fi.Mode().Perm()
	if mode&^0o700 != 0 {
		return result{status: Fail, detail: fmt.Sprintf("%s has mode %04o: other users can read etcd's data (every Secret)", host, mode),
			fix: "chmod 700 " + host, target: host}
	}
	return result{status: Pass, detail: fmt.Sprintf("%s has mode %04o", host, mode), target: host}
}

// uniqueCA compares etcd's client CA with the Kubernetes CA kube-apiserver trusts for
// clients: by path first, then, when both are readable, by the certificates inside.
func (a *auditor) uniqueCA() result {
	m := a.s.Etcd
	etcdCA, ok, from := a.etcd("trusted-ca-file")
	if !ok || etcdCA == "" {
		return result{status: Fail, detail: "--trusted-ca-file is not set: etcd does not verify client certificates against any CA", target: m.Path,
			fix: fmt.Sprintf("In %s set --trusted-ca-file=%s, a CA used only for etcd, with --client-cert-auth=true", m.Path, a.pki("ca.crt"))}
	}
	api := a.s.APIServer
	if api == nil {
		r := a.apiNotFound()
		r.detail = fmt.Sprintf("%s=%s; %s", from, etcdCA, r.detail)
		return r
	}
	k8sCA, ok := api.Flag("client-ca-file")
	if !ok || k8sCA == "" {
		return result{status: Pass, detail: fmt.Sprintf("%s=%s; kube-apiserver has no --client-ca-file", from, etcdCA), target: m.Path}
	}
	etcdHost, k8sHost := a.s.HostFile(m, etcdCA), a.s.HostFile(api, k8sCA)
	fix := fmt.Sprintf("Create a CA for etcd alone (kubeadm puts it in %s), issue etcd's certificates from it and point --trusted-ca-file in %s at it",
		a.pki("ca.crt"), m.Path)
	if sameFile(etcdHost, k8sHost) {
		return result{status: Fail, detail: fmt.Sprintf("etcd's %s=%s is the Kubernetes CA (kube-apiserver --client-ca-file=%s): every client certificate of the cluster can talk to etcd",
			from, etcdCA, k8sCA), fix: fix, target: m.Path}
	}
	etcdPEM, err1 := os.ReadFile(etcdHost)
	k8sPEM, err2 := os.ReadFile(k8sHost)
	if err := errors.Join(err1, err2); err != nil {
		return result{status: Warn, detail: fmt.Sprintf("%s=%s and --client-ca-file=%s are different files, but their contents could not be compared: %v",
			from, etcdCA, k8sCA, err), target: m.Path}
	}
	if shared := sharedCerts(etcdPEM, k8sPEM); shared > 0 {
		return result{status: Fail, detail: fmt.Sprintf("%s (etcd %s) and %s (kube-apiserver --client-ca-file) hold the same CA certificate",
			etcdHost, from, k8sHost), fix: fix, target: m.Path}
	}
	return result{status: Pass, detail: fmt.Sprintf("%s=%s differs from the Kubernetes CA %s", from, etcdCA, k8sCA), target: m.Path}
}

// sameFile reports whether a and b name the same file (same path or same inode).
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// sharedCerts counts the certificates of a's PEM bundle that are also in b's. Files with
// no PEM blocks are compared as bytes.
func sharedCerts(a, b []byte) int {
	ca, cb := pemCerts(a), pemCerts(b)
	if len(ca) == 0 || len(cb) == 0 {
		if bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b)) {
			return 1
		}
		return 0
	}
	n := 0
	for _, x := range ca {
		for _, y := range cb {
			if bytes.Equal(x, y) {
				n++
				break
			}
		}
	}
	return n
}

func pemCerts(data []byte) [][]byte {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
}
