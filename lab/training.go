package lab

import "fmt"

// Training is what the wizard shows of the lab's scenario: its name, and on "?" how the
// lab's etcd is doing now followed by BRIEF.md. The name is "" for the default
// scenario, today's sandbox, which the wizard does not announce.
func (l *Lab) Training() (name, brief string) {
	if l.scenario == "" || l.scenario == DefaultScenario {
		return "", ""
	}
	return l.scenario, l.EtcdNow() + "\n\n" + l.Brief()
}

// EtcdNow says in a line or two how the lab's etcd is doing, as its kubelet sees it:
// where it answers, or that it is down with etcd's own last words from the lab's log.
func (l *Lab) EtcdNow() string {
	if pid := l.PID(); pid != 0 {
		return fmt.Sprintf("The lab's etcd now: running (pid %d), answering on %s.", pid, l.Endpoint())
	}
	now := "The lab's etcd now: not running; the lab starts it again when etcd.yaml changes."
	if line := lastWords(l.root); line != "" {
		now += "\netcd's own last words: " + line
	}
	return now
}
