package main

import (
	"fmt"
	"image/color"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// renderChart draws one horizontal bar per workload variant and database
// that both servers measured: how many times better ours is (> 1: ours
// wins), with the parity line at 1.
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
		values = append(values, v)
	}
	p := plot.New()
	p.Title.Text = "prefect-server vs Python Prefect 3.9.1: times better (> 1 = ours better)"
	if r.Commit != "" {
		p.Title.Text += " @ " + r.Commit
	}
	p.X.Label.Text = "ratio (throughput ours/python, or latency python/ours)"
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
	parity, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -1}, {X: 1, Y: float64(len(values))}})
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
