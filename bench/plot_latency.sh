#!/usr/bin/env bash
# Draws sign_bench's latency data (--latency-data FILE) as a PNG: p50, p99 and max of a
# single Sign against the number of concurrent clients, trustkeyd beside p11-kit server.
# Usage: bench/plot_latency.sh DATA PNG [TITLE]
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: $0 DATA PNG [TITLE]" >&2
  exit 1
fi
data="$1"
png="$2"
title="${3:-ECDSA P-256 single-sign latency, one request outstanding per client}"
command -v gnuplot >/dev/null || { echo "$0: gnuplot not found (scripts/install-deps.sh installs gnuplot-nox)" >&2; exit 1; }
[ -r "$data" ] || { echo "$0: cannot read $data" >&2; exit 1; }
machine="$(sed -n '2s/^# //p' "$data")"

gnuplot <<GNUPLOT
set terminal pngcairo size 1000,640 font "sans,11"
set output "${png//\"/}"
set title "${title//\"/}\n{/*0.8 ${machine//\"/}}"
set datafile missing "NaN"
set logscale xy
set xlabel "concurrent clients (each its own connection or session)"
set ylabel "latency (ms)"
set xtics (1, 16, 64, 256, 1000)
set grid xtics ytics mytics
set key top left
set style line 1 lc rgb "#1f77b4" lw 2 pt 7
set style line 2 lc rgb "#ff7f0e" lw 2 pt 5
set style line 3 lc rgb "#d62728" lw 2 pt 9
plot "$data" using 1:2 with linespoints ls 1 dt 1 title "trustkeyd p50", \
     "" using 1:3 with linespoints ls 2 dt 1 title "trustkeyd p99", \
     "" using 1:4 with linespoints ls 3 dt 1 title "trustkeyd max", \
     "" using 1:5 with linespoints ls 1 dt 2 pt 6 title "p11-kit server p50", \
     "" using 1:6 with linespoints ls 2 dt 2 pt 4 title "p11-kit server p99", \
     "" using 1:7 with linespoints ls 3 dt 2 pt 8 title "p11-kit server max"
GNUPLOT
echo "wrote $png"
