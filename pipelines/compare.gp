# pipelines/compare.gp - several training runs in one picture, six panels.
#   gnuplot -e 'dir="cmp/data"; out="cmp/compare.png"' pipelines/compare.gp
# reads dir/runs.gp (n, common, label[1..n]) and, for each run i, dir/i.train
# (step tokens flops seconds loss lr tokens_per_s) and dir/i.val
# (step tokens flops seconds val_loss); written by pipelines/compare-runs.
# Optional: width and height of the picture in pixels (-e 'width=1000; ...').
load dir."/runs.gp"
if (!exists("width")) width = 1500
if (!exists("height")) height = 900
set terminal pngcairo size width,height font sprintf(",%d", height >= 900 ? 10 : 8)
set output out

# Eight colours told apart also by most colour-blind readers (Paul Tol's
# "bright" scheme, plus black); after eight they repeat with dashes.  The
# training loss is drawn half transparent (pngcairo's #AARRGGBB), so that
# validation points and the other runs show through.
colours = "#4477AA #EE6677 #228833 #CCBB44 #66CCEE #AA3377 #BBBBBB #000000"
col(i) = word(colours, (i - 1) % 8 + 1)
faint(i) = "#80" . col(i)[2:7]
dash(i) = (i - 1) / 8 + 1
train(i) = sprintf("%s/%d.train", dir, i)
val(i) = sprintf("%s/%d.val", dir, i)

set multiplot layout 2,3 title "Training runs: lines are the training loss, points the validation loss"
set grid
set key top right Left reverse opaque box samplen 2 width 2
set ylabel "loss (nats per token)"

set xlabel "step"
plot for [i=1:n] train(i) using 1:5 with lines lw 1.5 dt dash(i) lc rgb faint(i) notitle, \
     for [i=1:n] val(i) using 1:5 with linespoints pt 7 ps 0.8 lw 2 dt dash(i) lc rgb col(i) title label[i] noenhanced
unset key

set xlabel "tokens"
set format x "%.1s%c"
plot for [i=1:n] train(i) using 2:5 with lines lw 1.5 dt dash(i) lc rgb faint(i), \
     for [i=1:n] val(i) using 2:5 with linespoints pt 7 ps 0.8 lw 2 dt dash(i) lc rgb col(i)

set xlabel "model FLOPs (6N + 12LTC per token)"
set logscale x
set autoscale xfix
set format x "10^{%L}"
# The equal compute of summary.md: the largest every run reached.
if (n > 1) {
    set arrow 1 from common, graph 0 to common, graph 1 nohead dt 3 lc rgb "#555555"
    set label 1 "equal compute" at common, graph 0.97 right offset -0.5, 0 textcolor rgb "#555555"
}
plot for [i=1:n] train(i) using 3:5 with lines lw 1.5 dt dash(i) lc rgb faint(i), \
     for [i=1:n] val(i) using 3:5 with linespoints pt 7 ps 0.8 lw 2 dt dash(i) lc rgb col(i)
unset logscale x
set autoscale x
set format x "% h"
unset arrow 1
unset label 1

set xlabel "wall-clock seconds"
plot for [i=1:n] train(i) using 4:5 with lines lw 1.5 dt dash(i) lc rgb faint(i), \
     for [i=1:n] val(i) using 4:5 with linespoints pt 7 ps 0.8 lw 2 dt dash(i) lc rgb col(i)

set xlabel "step"
set ylabel "learning rate"
plot for [i=1:n] train(i) using 1:6 with lines lw 2 dt dash(i) lc rgb col(i)

# Each step's throughput is noisy on small models; the solid line is the
# average so far (tokens / seconds, validation time included).
set ylabel "tokens per second (faint: each step; line: average so far)"
plot for [i=1:n] train(i) using 1:7 with lines lw 1 dt dash(i) lc rgb faint(i), \
     for [i=1:n] train(i) using 1:($4 > 0 ? $2 / $4 : NaN) with lines lw 2 dt dash(i) lc rgb col(i)
unset multiplot
