//go:build tools

// Package tools pins the upstream Kubernetes commands that `make kube-binaries`
// builds, and etcd at the version that Kubernetes release requires. The build tag
// keeps this file out of every normal build; it exists so that go.mod and go.sum
// list exactly what those commands need.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
