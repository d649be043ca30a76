package render

import (
	"fmt"
	"io"
	"sync"
	"time"

	"charm.land/bubbles/v2/spinner"
	"github.com/charmbracelet/x/ansi"
)

// Progress shows how a long task goes, the same way from a subcommand and from the
// wizard's plain driver. Live (a terminal that takes escape codes: see UsePlain) it is
// one line redrawn in place and cleared by Stop; otherwise each report is a plain line
// of its own, for logs and pipes. It is safe for use by several goroutines.
type Progress struct {
	w     io.Writer
	live  bool
	timed bool
	start time.Time

	mu    sync.Mutex
	text  string // what the live line shows
	said  string // the last plain line, without its time
	drawn bool   // the live line holds something to clear
	done  chan struct{}
	wg    sync.WaitGroup
}

// lineWidth is as wide as a live line gets, so that it never wraps on a common terminal
// (a wrapped line could not be redrawn in place).
const lineWidth = 100

// NewProgress returns a Progress that writes to w: redrawn in place when live, plain
// lines otherwise.
func NewProgress(w io.Writer, live bool) *Progress {
	return &Progress{w: w, live: live, start: time.Now(), done: make(chan struct{})}
}

// Live reports whether p redraws one line in place.
func (p *Progress) Live() bool { return p.live }

// Timed makes p say how long the task has run: live, a spinner and the seconds ahead of
// the line, redrawn until Stop; otherwise "[  1.2s] " ahead of each line. Call it once,
// before the first Say.
func (p *Progress) Timed() *Progress {
	p.timed = true
	if p.live {
		p.wg.Add(1)
		go p.spin()
	}
	return p
}

// Say reports what the task is doing now. Live, the line shows it at once (at the next
// spinner frame when timed); otherwise it is written as a line, unless it repeats the
// line before (the same problem again while waiting).
func (p *Progress) Say(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		p.text = text
		if !p.timed {
			p.draw(text)
		}
		return
	}
	if text == p.said {
		return
	}
	p.said = text
	if p.timed {
		fmt.Fprintf(p.w, "[%5.1fs] ", time.Since(p.start).Seconds())
	}
	fmt.Fprintln(p.w, text)
}

// Stop ends the spinner and clears the live line, so that what is printed next starts
// on a clean line. Plain lines stay.
func (p *Progress) Stop() {
	select {
	case <-p.done:
		return // stopped already
	default:
		close(p.done)
	}
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r"+ansi.EraseLineRight)
		p.drawn = false
	}
}

// spin redraws the timed live line at the spinner's pace until Stop.
func (p *Progress) spin() {
	defer p.wg.Done()
	s := spinner.MiniDot
	t := time.NewTicker(s.FPS)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		p.mu.Lock()
		p.draw(fmt.Sprintf("%s %5.1fs %s", s.Frames[i%len(s.Frames)], time.Since(p.start).Seconds(), p.text))
		p.mu.Unlock()
	}
}

// draw puts line in place of the live line; p.mu is held.
func (p *Progress) draw(line string) {
	fmt.Fprint(p.w, "\r"+ansi.EraseLineRight+ansi.Truncate(line, lineWidth, "..."))
	p.drawn = true
}
