//go:build unix

package geoip

import (
	"runtime"
	"syscall"
	"unsafe"
)

// region holds a database's lookup tables in anonymous memory mapped outside
// the Go heap. The tables are large, pointer-free and immutable: on the heap
// they would count toward the collector's target, which GOGC sets in
// proportion to the live heap, so a process holding them keeps about as much
// again in garbage before it collects. Mapped, they are resident once. The
// mappings are made read-only once loaded and unmapped when their DB is
// unreachable.
type region struct {
	mems [][]byte
}

// alloc returns a zeroed slice of n Ts in a new mapping; T must hold no
// pointers.
func alloc[T any](r *region, n int) ([]T, error) {
	if n == 0 {
		return nil, nil
	}
	var zero T
	mem, err := syscall.Mmap(-1, 0, n*int(unsafe.Sizeof(zero)), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	r.mems = append(r.mems, mem)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n), nil
}

// seal makes the mappings read-only and ties their release to db.
func (r *region) seal(db *DB) error {
	for _, m := range r.mems {
		if err := syscall.Mprotect(m, syscall.PROT_READ); err != nil {
			r.free()
			return err
		}
	}
	runtime.AddCleanup(db, func(mems [][]byte) {
		for _, m := range mems {
			syscall.Munmap(m)
		}
	}, r.mems)
	return nil
}

// free unmaps a region whose DB was never returned.
func (r *region) free() {
	for _, m := range r.mems {
		syscall.Munmap(m)
	}
	r.mems = nil
}
