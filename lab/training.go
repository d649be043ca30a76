package lab

import (
	"fmt"
	"time"
)

// Training is what the wizard shows of the lab's scenario: its name, and on "?" how the
// lab's etcd is doing now followed by BRIEF.md. The name is "" for the default
// scenario, today's sandbox, which the wizard does not announce.
func (l *Lab) Training() (name, brief string) {
	if l.scenario == "" || l.scenario == DefaultScenario {
		return "", ""
	}
	return l.scenario, l.EtcdNow() + "\n\n" + l.Brief()
}

// EtcdNow says in a few lines how the lab's etcd is doing, as its kubelet sees it:
// where it answers, or that it is down (crash-looping, with its restarts and when it
// starts again) with etcd's own last words.
func (l *Lab) EtcdNow() string {
	return etcdNow(l.PID(), l.Endpoint(), l.Pod(), time.Now(), func() string { return lastWords(l.root) })
}

// etcdNow is EtcdNow for an etcd with this pid (0: not running), endpoint and pod
// status at now; logWords reads etcd's last words from the lab's log.
func etcdNow(pid int, endpoint string, pod PodStatus, now time.Time, logWords func() string) string {
	if pid != 0 {
		s := fmt.Sprintf("The lab's etcd now: running (pid %d), answering on %s.", pid, endpoint)
		if pod.Restarts > 0 {
			s += fmt.Sprintf("\nIt was restarted %s since etcd.yaml last changed; its last error: %s", times(pod.Restarts), pod.LastError)
		}
		return s
	}
	var s string
	switch {
	case pod.CrashLooping():
		next := "now"
		if d := pod.NextStart.Sub(now); d > 0 {
			next = "in " + roughly(d)
		}
		s = fmt.Sprintf("The lab's etcd now: CrashLoopBackOff (restarted %s, next start %s).", times(pod.Restarts), next)
	case pod.Restarts > 0:
		s = fmt.Sprintf("The lab's etcd now: starting again (restarted %s).", times(pod.Restarts))
	default:
		s = "The lab's etcd now: not running; the lab starts it again when etcd.yaml changes."
	}
	words := pod.LastError
	if words == "" {
		words = logWords()
	}
	if words != "" {
		s += "\netcd's own last words: " + words
	}
	if pod.CrashLooping() || pod.Restarts > 0 {
		s += fmt.Sprintf("\nThe lab starts it again with a back-off that doubles up to %s, at once when etcd.yaml changes.", podBackoff.max)
	}
	return s
}

// roughly rounds d for a person: tenths of a second under 1 s, else whole seconds.
func roughly(d time.Duration) string {
	if d < time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
