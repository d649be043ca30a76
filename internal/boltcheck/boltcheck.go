// Package boltcheck checks a bbolt file's structure in one walk of its pages, with a bit
// per page for memory.
//
// bbolt's own Tx.Check keeps a map entry for every reachable page, and on a file whose
// freelist is not synced (every etcd database and snapshot: etcd opens bbolt with
// NoFreelistSync) it first rebuilds the freelist by walking every page with another map:
// its memory grows with the file (about 85 MiB at 5 GiB) and it reads the tree twice.
// File checks what Tx.Check checks — the meta page, page ids in range, each page reached
// once, page types, key order within pages and against their parents, the freelist when
// one is synced — and reads the file through a read-only mapping, so that what it holds
// is the kernel's page cache, not the program's memory. A damaged file gives problems,
// never a fault: every offset is checked before it is read.
package boltcheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/bits"
	"os"

	"golang.org/x/sys/unix"
)

// The on-disk format of bbolt (go.etcd.io/bbolt/internal/common), version 2.
const (
	magic         = 0xED0CDAED
	version       = 2
	pageHeader    = 16 // id u64, flags u16, count u16, overflow u32
	elementSize   = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	bucketHeader  = 16 // root pgid u64, sequence u64
	branchPage    = 0x01
	leafPage      = 0x02
	metaPage      = 0x04
	freelistPage  = 0x10
	bucketLeaf    = 0x01
	noFreelist    = ^uint64(0)
	maxProblems   = 100
	metaChecksum  = 56 // the meta's bytes that its checksum covers
	metaRootPgid  = 16
	metaFreelist  = 32
	metaHighWater = 40
	metaTxid      = 48
)

// native is the byte order bbolt wrote the file in: the machine's own.
var native = binary.NativeEndian

// Result is what File found.
type Result struct {
	// Pages is the file's page count below the high-water mark; Reached of them belong
	// to the tree, the meta pages and the freelist, the rest are free.
	Pages, Reached int
	// FreelistSynced says the file carries its freelist (else bbolt rebuilds it).
	FreelistSynced bool
	// Problems are what the check found, at most maxProblems of them; Found counts all.
	Problems []string
	Found    int
}

// File checks the bbolt file at path, whose page size is pageSize (bbolt's DB.Info). The
// error is for a file that cannot be read; a damaged file is a Result with Problems.
func File(path string, pageSize int) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return &Result{Problems: []string{"the file is empty"}, Found: 1}, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	defer unix.Munmap(data)
	c := newChecker(data, pageSize)
	// Every page is read once: unmapping what was read keeps this mapping's share of
	// the resident set small (the pages stay in the page cache for the reader beside).
	c.release = func() { _ = unix.Madvise(data, unix.MADV_DONTNEED) }
	c.run()
	return c.res, nil
}

// releaseEvery is how many pages are read between two calls of checker.release (a
// variable for the tests).
var releaseEvery = 16 << 10 // 64 MiB of 4 KiB pages

type checker struct {
	data     []byte
	pageSize int
	hwm      uint64 // pages below it belong to the file
	reached  bitmap
	freed    bitmap // only when the freelist is synced
	res      *Result
	release  func() // when not nil, drops the mapping of the pages read so far
	read     int    // pages read since the last release
}

// newChecker checks the bbolt file held in data when run.
func newChecker(data []byte, pageSize int) *checker {
	return &checker{data: data, pageSize: pageSize, res: &Result{}}
}

func (c *checker) problem(format string, args ...any) {
	c.res.Found++
	if len(c.res.Problems) < maxProblems {
		c.res.Problems = append(c.res.Problems, fmt.Sprintf(format, args...))
	}
}

func (c *checker) run() {
	if c.pageSize < 1024 || c.pageSize&(c.pageSize-1) != 0 {
		c.problem("page size %d is not a power of two of at least 1024", c.pageSize)
		return
	}
	meta, err := c.meta()
	if err != nil {
		c.problem("%v", err)
		return
	}
	c.hwm = native.Uint64(meta[metaHighWater:])
	if c.hwm < 2 || c.hwm > uint64(len(c.data)/c.pageSize) {
		c.problem("the meta page's high-water mark %d is outside the file's %d pages", c.hwm, len(c.data)/c.pageSize)
		return
	}
	c.res.Pages = int(c.hwm)
	c.reached = newBitmap(c.hwm)
	c.reached.set(0)
	c.reached.set(1)
	if fl := native.Uint64(meta[metaFreelist:]); fl != noFreelist {
		c.res.FreelistSynced = true
		c.freed = newBitmap(c.hwm)
		c.freelist(fl)
	}
	c.tree(native.Uint64(meta[metaRootPgid:]), nil)
	c.res.Reached = c.reached.count()
	if c.res.FreelistSynced {
		for id := uint64(0); id < c.hwm; id++ {
			if !c.reached.has(id) && !c.freed.has(id) {
				c.problem("page %d: unreachable unfreed", id)
			}
		}
	}
}

// meta returns the newer of the two valid meta pages' meta, as bbolt opens a file.
func (c *checker) meta() ([]byte, error) {
	var best []byte
	var firstErr error
	for i := range 2 {
		start := i*c.pageSize + pageHeader
		if start+metaChecksum+8 > len(c.data) {
			return nil, fmt.Errorf("the file is shorter than its two meta pages (%d bytes)", len(c.data))
		}
		m := c.data[start : start+metaChecksum+8]
		h := fnv.New64a()
		h.Write(m[:metaChecksum])
		var err error
		switch {
		case native.Uint32(m[0:]) != magic:
			err = fmt.Errorf("meta page %d: not a bbolt meta page (magic %#x)", i, native.Uint32(m[0:]))
		case native.Uint32(m[4:]) != version:
			err = fmt.Errorf("meta page %d: version %d, not %d", i, native.Uint32(m[4:]), version)
		case native.Uint64(m[metaChecksum:]) != h.Sum64():
			err = fmt.Errorf("meta page %d: checksum does not match", i)
		case int(native.Uint32(m[8:])) != c.pageSize:
			err = fmt.Errorf("meta page %d: page size %d, not %d", i, native.Uint32(m[8:]), c.pageSize)
		}
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		if best == nil || native.Uint64(m[metaTxid:]) > native.Uint64(best[metaTxid:]) {
			best = m
		}
	}
	if best == nil {
		return nil, firstErr
	}
	return best, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// page returns page id's bytes, its overflow pages included, after checking that the
// page lies in the file, names itself id and is not reached twice; nil when it cannot
// be read (the problem is said).
func (c *checker) page(id uint64, stack []uint64) []byte {
	if id >= c.hwm {
		c.problem("page %d: out of bounds: %d (stack: %v)", id, c.hwm, stack)
		return nil
	}
	off := id * uint64(c.pageSize)
	hdr := c.data[off : off+pageHeader]
	if self := native.Uint64(hdr); self != id {
		c.problem("page %d: self identifies as %d (stack: %v)", id, self, stack)
		return nil
	}
	overflow := uint64(native.Uint32(hdr[12:]))
	if id+overflow >= c.hwm {
		c.problem("page %d: its %d overflow pages run past the high-water mark %d (stack: %v)", id, overflow, c.hwm, stack)
		return nil
	}
	if c.read += int(overflow) + 1; c.release != nil && c.read >= releaseEvery {
		c.release()
		c.read = 0
	}
	for i := id; i <= id+overflow; i++ {
		if c.reached.has(i) {
			c.problem("page %d: multiple references (stack: %v)", i, stack)
			return nil // a cycle would never end
		}
		c.reached.set(i)
		if c.freed != nil && c.freed.has(i) {
			c.problem("page %d: reachable freed", i)
		}
	}
	return c.data[off : off+(overflow+1)*uint64(c.pageSize)]
}

// freelist marks the synced freelist's pages reached and the pages it lists freed.
func (c *checker) freelist(id uint64) {
	p := c.page(id, nil)
	if p == nil {
		return
	}
	if flags := native.Uint16(p[8:]); flags != freelistPage {
		c.problem("page %d: the meta's freelist page has type %#x", id, flags)
		return
	}
	n, at := uint64(native.Uint16(p[10:])), uint64(pageHeader)
	if n == 0xFFFF { // the count did not fit: it is the first element
		n, at = native.Uint64(p[pageHeader:]), pageHeader+8
	}
	if at+n*8 > uint64(len(p)) {
		c.problem("page %d: the freelist's %d ids run past the page", id, n)
		return
	}
	for i := range n {
		free := native.Uint64(p[at+i*8:])
		switch {
		case free >= c.hwm:
			c.problem("page %d: freelist lists page %d, beyond the high-water mark %d", id, free, c.hwm)
		case c.freed.has(free):
			c.problem("page %d: already freed", free)
		default:
			c.freed.set(free)
		}
	}
}

// tree checks the bucket tree rooted at page root.
func (c *checker) tree(root uint64, stack []uint64) {
	c.keys(root, nil, nil, append(stack, root))
}

// keys checks the subtree at page id, whose keys must be ≥ low (when not nil) and < high
// (when not nil), and returns its greatest key, as bbolt's recursivelyCheckPageKeyOrder.
func (c *checker) keys(id uint64, low, high []byte, stack []uint64) []byte {
	p := c.page(id, stack)
	if p == nil {
		return nil
	}
	flags, count := native.Uint16(p[8:]), int(native.Uint16(p[10:]))
	if pageHeader+count*elementSize > len(p) {
		c.problem("page %d: %d elements do not fit in it (stack: %v)", id, count, stack)
		return nil
	}
	switch flags {
	case branchPage:
		running, greatest := low, []byte(nil)
		for i := range count {
			e := p[pageHeader+i*elementSize:]
			key := c.element(p, pageHeader+i*elementSize, native.Uint32(e), native.Uint32(e[4:]), 0, id, stack)
			if key == nil {
				return greatest
			}
			c.order(id, "branch", i, key, running, high, stack)
			next := high
			if i+1 < count {
				n := p[pageHeader+(i+1)*elementSize:]
				if k := c.element(p, pageHeader+(i+1)*elementSize, native.Uint32(n), native.Uint32(n[4:]), 0, id, stack); k != nil {
					next = k
				}
			}
			greatest = c.keys(native.Uint64(e[8:]), key, next, append(stack, native.Uint64(e[8:])))
			running = greatest
		}
		return greatest
	case leafPage:
		return c.leaf(p, id, count, low, high, stack)
	default:
		c.problem("page %d: invalid type: %#x (stack: %v)", id, flags, stack)
		return nil
	}
}

// leaf checks a leaf's key order and the buckets it holds; p may be an inline bucket.
func (c *checker) leaf(p []byte, id uint64, count int, low, high []byte, stack []uint64) []byte {
	running := low
	for i := range count {
		e := p[pageHeader+i*elementSize:]
		flags, pos, ksize, vsize := native.Uint32(e), native.Uint32(e[4:]), native.Uint32(e[8:]), native.Uint32(e[12:])
		kv := c.element(p, pageHeader+i*elementSize, pos, ksize, vsize, id, stack)
		if kv == nil {
			return running
		}
		key, value := kv[:ksize], kv[ksize:]
		c.order(id, "leaf", i, key, running, high, stack)
		running = key
		if flags&bucketLeaf == 0 {
			continue
		}
		if len(value) < bucketHeader {
			c.problem("page %d: bucket %x's value is %d bytes, shorter than a bucket header (stack: %v)", id, key, len(value), stack)
			continue
		}
		if root := native.Uint64(value); root != 0 {
			c.tree(root, stack)
			continue
		}
		inline := value[bucketHeader:]
		if len(inline) < pageHeader {
			c.problem("page %d: inline bucket %x is shorter than a page header (stack: %v)", id, key, stack)
			continue
		}
		n := int(native.Uint16(inline[10:]))
		switch {
		case native.Uint16(inline[8:]) != leafPage:
			c.problem("page %d: inline bucket %x is not a leaf (stack: %v)", id, key, stack)
		case pageHeader+n*elementSize > len(inline):
			c.problem("page %d: inline bucket %x's %d elements do not fit in it (stack: %v)", id, key, n, stack)
		default:
			c.leaf(inline, id, n, nil, nil, stack)
		}
	}
	return running
}

// element returns the key (and value, when vsize > 0) of the element at offset at of p,
// which lie pos bytes after it; nil when they run past the page.
func (c *checker) element(p []byte, at int, pos, ksize, vsize uint32, id uint64, stack []uint64) []byte {
	start := uint64(at) + uint64(pos)
	end := start + uint64(ksize) + uint64(vsize)
	if end > uint64(len(p)) {
		c.problem("page %d: element at %d runs past the page (%d > %d bytes) (stack: %v)", id, at, end, len(p), stack)
		return nil
	}
	if ksize == 0 && vsize == 0 {
		return []byte{} // an empty key is not a missing one
	}
	return p[start:end]
}

// order is bbolt's verifyKeyOrder.
func (c *checker) order(id uint64, kind string, i int, key, previous, high []byte, stack []uint64) {
	if i == 0 && previous != nil && bytes.Compare(previous, key) > 0 {
		c.problem("the first key[%d]=(hex)%x on %s page(%d) needs to be >= the key in the ancestor (%x). Stack: %v", i, key, kind, id, previous, stack)
	}
	if i > 0 {
		switch bytes.Compare(previous, key) {
		case 1:
			c.problem("key[%d]=(hex)%x on %s page(%d) needs to be > (found <) than previous element (hex)%x. Stack: %v", i, key, kind, id, previous, stack)
		case 0:
			c.problem("key[%d]=(hex)%x on %s page(%d) needs to be > (found =) than previous element (hex)%x. Stack: %v", i, key, kind, id, previous, stack)
		}
	}
	if high != nil && bytes.Compare(key, high) >= 0 {
		c.problem("key[%d]=(hex)%x on %s page(%d) needs to be < than key of the next element in ancestor (hex)%x. Stack: %v", i, key, kind, id, high, stack)
	}
}

// bitmap is one bit per page.
type bitmap []uint64

func newBitmap(n uint64) bitmap    { return make(bitmap, (n+63)/64) }
func (b bitmap) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitmap) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }

func (b bitmap) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}
