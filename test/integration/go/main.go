// A real Prometheus Go client (client_golang's push package) for test/integration/go-client.test.ts.
//
// It pushes to the URL in argv[1] as job argv[2] with the grouping key instance="a/b", which the
// client sends as instance@base64/YS9i. The test drives it one command per stdin line and reads one
// answer per command from stdout ("ok", or "error: <what>"), so it can scrape the gateway between
// steps:
//
//	add | push | delete          Pusher.Add (POST), Pusher.Push (PUT), Pusher.Delete (DELETE)
//	inc <kind> <n>               go_jobs_total{kind} += n
//	forget <kind>                go_jobs_total{kind} leaves the client's registry
//	set <v>                      go_temperature_celsius = v
//	observe <v>                  go_latency_seconds and go_rpc_seconds observe v
//
// Built offline in GOPATH mode against Debian's golang-github-prometheus-client-golang-dev.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go-client <gateway url> <job>")
		os.Exit(2)
	}
	jobs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "go_jobs_total", Help: "Jobs run."}, []string{"kind"})
	temperature := prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_temperature_celsius", Help: "Temperature."})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "go_latency_seconds", Help: "Latency.", Buckets: []float64{0.1, 0.5, 2}})
	rpc := prometheus.NewSummary(prometheus.SummaryOpts{Name: "go_rpc_seconds", Help: "RPC latency.", Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01}})
	pusher := push.New(os.Args[1], os.Args[2]).Grouping("instance", "a/b").Collector(jobs).Collector(temperature).Collector(latency).Collector(rpc)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		if err := run(fields, pusher, jobs, temperature, latency, rpc); err != nil {
			fmt.Printf("error: %s: %v\n", in.Text(), err)
		} else {
			fmt.Println("ok")
		}
	}
}

func run(fields []string, pusher *push.Pusher, jobs *prometheus.CounterVec, temperature prometheus.Gauge, latency prometheus.Histogram, rpc prometheus.Summary) error {
	number := func(i int) (float64, error) {
		if len(fields) <= i {
			return 0, fmt.Errorf("argument %d missing", i)
		}
		return strconv.ParseFloat(fields[i], 64)
	}
	switch fields[0] {
	case "add":
		return pusher.Add()
	case "push":
		return pusher.Push()
	case "delete":
		return pusher.Delete()
	case "inc":
		n, err := number(2)
		if err != nil {
			return err
		}
		jobs.WithLabelValues(fields[1]).Add(n)
	case "forget":
		if len(fields) != 2 {
			return fmt.Errorf("forget takes one label value")
		}
		if !jobs.DeleteLabelValues(fields[1]) {
			return fmt.Errorf("no series kind=%q to forget", fields[1])
		}
	case "set":
		v, err := number(1)
		if err != nil {
			return err
		}
		temperature.Set(v)
	case "observe":
		v, err := number(1)
		if err != nil {
			return err
		}
		latency.Observe(v)
		rpc.Observe(v)
	default:
		return fmt.Errorf("unknown command %q", fields[0])
	}
	return nil
}
