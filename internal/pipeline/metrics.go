package pipeline

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	received     *prometheus.CounterVec
	events       *prometheus.CounterVec
	signals      *prometheus.CounterVec
	quarantined  *prometheus.CounterVec
	errors       *prometheus.CounterVec
	alerts       *prometheus.CounterVec
	done         prometheus.Counter
	writeSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, queueDepth func() float64) metrics {
	m := metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_records_received_total", Help: "Raw records accepted from inputs, by input kind.",
		}, []string{"input"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_events_total", Help: "Records normalized into events, by format.",
		}, []string{"format"}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_signals_total", Help: "Signals raised, by detector.",
		}, []string{"detector"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_quarantined_total", Help: "Records quarantined, by reason.",
		}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_errors_total", Help: "Pipeline errors, by stage.",
		}, []string{"stage"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_alerts_created_total", Help: "Alerts created, by level.",
		}, []string{"level"}),
		done: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rampart_records_done_total",
			Help: "Records whose batch has been through the store writes (stored, quarantined or left out), failed writes included.",
		}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rampart_store_write_seconds", Help: "Duration of one batched store write.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.events, m.signals, m.quarantined, m.errors, m.alerts, m.done, m.writeSeconds,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "rampart_queue_depth", Help: "Records waiting in the pipeline queue.",
			}, queueDepth))
	}
	return m
}
