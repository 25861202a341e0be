package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// renderChart draws one horizontal bar per workload variant and database
// that both servers measured: how many times better ours is, on a log
// scale around parity (bars to the right: ours better; to the left: worse).
func renderChart(r *report, path string) error {
	var labels []string
	var values plotter.Values
	for _, x := range r.Results {
		if x.Server != string(ours) {
			continue
		}
		s := strings.TrimSuffix(r.ratio(x), "x")
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		labels = append(labels, fmt.Sprintf("%s: %s (%s)", x.Workload, x.Variant, x.Database))
		values = append(values, math.Log10(v))
	}
	p := plot.New()
	p.Title.Text = "prefect-server vs Python Prefect 3.9.1: times better (> 1 = ours better)"
	if r.Commit != "" {
		p.Title.Text += " @ " + r.Commit
	}
	p.X.Label.Text = "times better, log scale (throughput ours/python, latency python/ours)"
	p.X.Tick.Marker = ratioTicks{}
	if len(values) == 0 {
		values, labels = plotter.Values{0}, []string{"no paired results"}
	}
	bars, err := plotter.NewBarChart(values, vg.Points(10))
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	bars.Horizontal = true
	bars.Color = color.RGBA{R: 40, G: 110, B: 200, A: 255}
	bars.LineStyle.Width = 0
	p.Add(bars)
	parity, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -1}, {X: 0, Y: float64(len(values))}})
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	parity.Color = color.RGBA{R: 200, A: 255}
	p.Add(parity)
	p.NominalY(labels...)
	height := vg.Points(float64(len(values))*14 + 120)
	if err := p.Save(12*vg.Inch, height, path); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// ratioTicks labels a log10 axis with the ratios themselves.
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for _, r := range []float64{0.01, 0.1, 0.5, 1, 2, 5, 10, 100, 1000, 10000} {
		if x := math.Log10(r); x >= lo && x <= hi {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(r, 'g', -1, 64) + "x"})
		}
	}
	return ticks
}
