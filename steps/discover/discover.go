// Package discover reads the etcd and kube-apiserver static pod manifests under a root
// and returns what later steps need: the flags, their files mapped to the host, and the
// etcd version.
package discover
