package encryption

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// BenchmarkStatus scans 100,000 Secrets of about 1 KiB (90% secretbox, 10% plaintext) in
// an embedded etcd and reports the scan rate, the peak heap in use during the scan and
// that peak above the heap in use before it (the embedded server shares the process, so
// B/op and allocs/op include the server's work).
func BenchmarkStatus(b *testing.B) {
	const n, plain = 100_000, 10_000
	srv := testetcd.Start(b, testetcd.Options{QuotaBytes: 4 << 30})
	cli := srv.Client(b)
	d, err := decide(nil, opts(b, Options{}), mustKey(b))
	if err != nil {
		b.Fatal(err)
	}
	data, _ := d.Config.YAML("")
	l, err := loadFile(context.Background(), "bench", data, false)
	if err != nil {
		b.Fatal(err)
	}
	defer l.cancel()
	tr := l.cfg.Transformers[schema.GroupResource{Resource: "secrets"}]
	start := time.Now()
	for from := 0; from < n; from += 10_000 {
		kvs := encrypt(b, tr, "/registry/secrets/", from, 10_000, 1000)
		if from < plain {
			for k := range kvs {
				kvs[k] = append([]byte("k8s\x00"), make([]byte, 1000)...)
			}
		}
		put(b, cli, kvs)
	}
	b.Logf("seeded %d values in %s", n, time.Since(start))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	b.ResetTimer()
	for b.Loop() {
		rep, err := Status(context.Background(), cli, nil, d.Config, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Total != n || rep.Plaintext != plain || rep.Encrypted != n-plain {
			b.Fatalf("report %+v", rep)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peak-min(peak, base.HeapInuse))/(1<<20), "scan-heap-MiB")
}
