#!/bin/bash
# bench/summarize.sh RAW.tsv... - medians of the measured runs ("run*" phases)
# per corpus, peer and concurrency, from one or more raw.tsv files of
# bench/run.sh. Prints a TSV table, or Markdown tables with --markdown.
set -euo pipefail
fmt=tsv
if [ "${1:-}" = --markdown ]; then
	fmt=md
	shift
fi
[ $# -gt 0 ] || { echo "usage: bench/summarize.sh [--markdown] RAW.tsv..." >&2; exit 2; }
awk -F'\t' -v fmt="$fmt" '
	FNR == 1 || $4 !~ /^run/ { next }
	{
		k = $2 SUBSEP $1 SUBSEP $3
		if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
		if (!(($2) in cseen)) { cseen[$2] = 1; corder[++nc] = $2 }
		if (!(($1) in pseen)) { pseen[$1] = 1; porder[++np] = $1 }
		if (!(($3) in qseen)) { qseen[$3] = 1; qorder[++nq] = $3 }
		if ($5 != "ok") { bad[k]++; next }   # failed runs do not enter the medians
		m = ++n[k]; mps[k, m] = $8; p50[k, m] = $9; p99[k, m] = $11
		cpu[k, m] = $13; oth[k, m] = $15
		# for the paired comparison: the same file and round ran back to back
		rt[FILENAME, $4, $2, $3, $1] = $8
		if (!((FILENAME SUBSEP $4) in rseen)) { rseen[FILENAME SUBSEP $4] = 1; rorder[++nr] = FILENAME SUBSEP $4 }
	}
	function med(a, k, m,   i, j, t, v) {
		if (m == 0) return -1
		for (i = 1; i <= m; i++) v[i] = a[k, i] + 0
		for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	function minmax(a, k, m,   i, lo, hi) {
		lo = hi = a[k, 1] + 0
		for (i = 2; i <= m; i++) { if (a[k, i] + 0 < lo) lo = a[k, i] + 0; if (a[k, i] + 0 > hi) hi = a[k, i] + 0 }
		return sprintf("%.0f-%.0f", lo, hi)
	}
	END {
		if (fmt == "tsv") {
			print "corpus\tpeer\tconc\truns_ok\truns_failed\tmps_median\tmps_range\tp50_ms_median\tp99_ms_median\tserver_cpu_ms_per_msg_median\tother_cpu_s_median"
			for (i = 1; i <= nk; i++) {
				k = order[i]; split(k, f, SUBSEP); m = n[k]
				printf "%s\t%s\t%s\t%d\t%d\t%.1f\t%s\t%.2f\t%.2f\t%.3f\t%.2f\n", f[1], f[2], f[3], m, bad[k] + 0,
					med(mps, k, m), minmax(mps, k, m), med(p50, k, m), med(p99, k, m), med(cpu, k, m), med(oth, k, m)
			}
			exit
		}
		for (c = 1; c <= nc; c++) {
			printf "\n#### %s\n\n| peer |", corder[c]
			for (q = 1; q <= nq; q++) printf " c=%s msg/s | c=%s p99 ms | c=%s CPU ms/msg |", qorder[q], qorder[q], qorder[q]
			printf "\n|---|"
			for (q = 1; q <= nq; q++) printf "--:|--:|--:|"
			printf "\n"
			for (p = 1; p <= np; p++) {
				printf "| %s |", porder[p]
				for (q = 1; q <= nq; q++) {
					k = corder[c] SUBSEP porder[p] SUBSEP qorder[q]; m = n[k]
					if (!(k in seen)) { printf " - | - | - |"; continue }
					if (m == 0) { printf " failed | failed | - |"; continue }
					printf " %.0f (%s) | %.1f | %.2f |", med(mps, k, m), minmax(mps, k, m), med(p99, k, m), med(cpu, k, m)
				}
				printf "\n"
			}
		}
		printf "\nmsg/s: median of the measured runs (lowest-highest in brackets); p99: median of the runs"
		printf " 99th percentile latency; CPU ms/msg: median server CPU time per message (the milter plus"
		printf " clamd or the MIMEDefang workers, from /proc).\n"
		ref = "clamav-milter"
		if (ref in pseen) {
			printf "\nPaired throughput ratio against %s: for each round, the peers ran one after", ref
			printf " the other, so each round gives one ratio peer/%s in the same conditions;", ref
			printf " median of the ratios, and in how many rounds the peer was faster.\n\n"
			printf "| corpus | peer |"
			for (q = 1; q <= nq; q++) printf " c=%s |", qorder[q]
			printf "\n|---|---|"
			for (q = 1; q <= nq; q++) printf "--:|"
			printf "\n"
			for (c = 1; c <= nc; c++) for (p = 1; p <= np; p++) {
				if (porder[p] == ref) continue
				printf "| %s | %s |", corder[c], porder[p]
				for (q = 1; q <= nq; q++) {
					nrat = 0; won = 0; delete rat
					for (r = 1; r <= nr; r++) {
						split(rorder[r], rf, SUBSEP)
						a = rt[rf[1], rf[2], corder[c], qorder[q], porder[p]]
						b = rt[rf[1], rf[2], corder[c], qorder[q], ref]
						if (a == "" || b == "" || b == 0) continue
						rat["x", ++nrat] = a / b; won += (a > b)
					}
					if (nrat == 0) printf " - |"
					else printf " %.2f (%d/%d) |", med(rat, "x", nrat), won, nrat
				}
				printf "\n"
			}
		}
		printf "\n"
		for (i = 1; i <= nk; i++) if (bad[order[i]]) {
			split(order[i], f, SUBSEP)
			printf "Failed runs (left out of the medians): %s %s c=%s: %d\n", f[2], f[1], f[3], bad[order[i]]
		}
	}' "$@"
