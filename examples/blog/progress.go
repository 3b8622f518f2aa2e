package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// printer writes the demo's narration. On a terminal, long steps show a
// live elapsed time and progress bars redraw in place; elsewhere (a pipe, a
// test, CI logs) each step is one line and progress is printed at every
// quarter, so logs stay short.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

func newPrinter(w io.Writer) *printer {
	p := &printer{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// section starts a numbered part of the narration.
func (p *printer) section(title string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\n== %s\n", title)
}

// linef prints one indented line.
func (p *printer) linef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "  "+format+"\n", args...)
}

// block prints pre-formatted lines (a table), indented.
func (p *printer) block(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(p.w, "    %s\n", l)
	}
}

// step runs fn, printing label, then "ok" or "FAILED" with the elapsed time.
// On a terminal the elapsed time ticks while fn runs.
func (p *printer) step(label string, fn func() error) error {
	start := time.Now()
	p.mu.Lock()
	fmt.Fprintf(p.w, "  %s ... ", label)
	p.mu.Unlock()
	done := make(chan struct{})
	var wg sync.WaitGroup
	if p.tty {
		wg.Go(func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					p.mu.Lock()
					fmt.Fprintf(p.w, "\r  %s ... %.1fs", label, time.Since(start).Seconds())
					p.mu.Unlock()
				}
			}
		})
	}
	err := fn()
	close(done)
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r  %s ... ", label)
	}
	if err != nil {
		fmt.Fprintf(p.w, "FAILED after %s\n", roundDuration(time.Since(start)))
		return err
	}
	fmt.Fprintf(p.w, "ok (%s)\n", roundDuration(time.Since(start)))
	return nil
}

// bar reports done of total with a note on what finished last. On a
// terminal it redraws one line; elsewhere it prints at each quarter.
type bar struct {
	p     *printer
	label string
	last  int // quarter printed last (non-terminal)
}

func (p *printer) bar(label string) *bar { return &bar{p: p, label: label, last: -1} }

func (b *bar) update(done, total int, note string) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	const width = 24
	fill := 0
	if total > 0 {
		fill = done * width / total
	}
	line := fmt.Sprintf("  %s [%s%s] %d/%d", b.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total)
	if b.p.tty {
		fmt.Fprintf(b.p.w, "\r%s %-40s", line, note)
		if done == total {
			fmt.Fprintln(b.p.w)
		}
		return
	}
	q := 0
	if total > 0 {
		q = done * 4 / total
	}
	if q != b.last {
		b.last = q
		fmt.Fprintf(b.p.w, "%s %s\n", line, note)
	}
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}
