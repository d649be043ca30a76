package step

// Training is a lab laid out for a training scenario (etcd-harden lab --scenario), as the
// wizard sees it: it names the scenario and shows the brief on "?".
type Training interface {
	// Training returns the scenario's name ("" when the lab has none to announce) and
	// the brief to show, starting with how the lab's etcd is doing now.
	Training() (name, brief string)
}
