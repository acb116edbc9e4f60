# pipelines/loss.gp - loss curves from tfs-train's metrics, as a PNG.
#   gnuplot -e 'dir="demo"; out="demo/loss.png"' pipelines/loss.gp
# reads dir/train.dat and dir/val.dat: columns step, model FLOPs, loss.
set terminal pngcairo size 1200,480
set output out
set multiplot layout 1,2 title "tfs-train: the tiny model on the default stories"
set grid
set key top right
set ylabel "loss (nats per token)"
set xlabel "step"
plot dir."/train.dat" using 1:3 with lines lc rgb "#88aadd" title "train", \
     dir."/val.dat" using 1:3 with linespoints lw 2 lc rgb "#cc3311" title "validation"
set xlabel "model FLOPs (6N + 12LTC per token)"
set logscale x
set format x "10^{%L}"
plot dir."/train.dat" using 2:3 with lines lc rgb "#88aadd" title "train", \
     dir."/val.dat" using 2:3 with linespoints lw 2 lc rgb "#cc3311" title "validation"
unset multiplot
