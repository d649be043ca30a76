package e2e

// The tests run an etcd-harden binary they build with `go build`, which go test's result
// cache cannot see: a cached pass could stand for code that changed since. Importing the
// command tree makes this test binary, and so the cache's key, change whenever the code
// the binary is built from does (all but main.go's few lines).
import _ "github.com/etcd-harden/etcd-harden/commands"
