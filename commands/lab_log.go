package commands

import (
	"fmt"
	"io"
	"sync"
)

// labLog writes the lab's own messages to stderr until the wizard takes the screen;
// what happens to etcd meanwhile is kept and printed when the wizard ends.
type labLog struct {
	w      io.Writer
	mu     sync.Mutex
	quiet  bool
	during []string
}

// line is the lab's Options.Log.
func (l *labLog) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.quiet {
		l.during = append(l.during, s)
		return
	}
	fmt.Fprintln(l.w, "lab: "+s)
}

// hold keeps the lines from now on, while the wizard has the screen.
func (l *labLog) hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.quiet = true
}

// release prints the lines kept and writes the next ones at once.
func (l *labLog) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.quiet = false
	for _, s := range l.during {
		fmt.Fprintln(l.w, "lab: while the wizard ran: "+s)
	}
	l.during = nil
}
