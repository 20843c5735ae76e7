"""``make bench``: run every benchmark and print Markdown tables (copied into the README)."""

from __future__ import annotations

from bench import (
    bench_apps_wizard,
    bench_deploy,
    bench_inflight,
    bench_login,
    bench_metrics,
    bench_node_search,
    bench_page_load,
    bench_platform,
    bench_wizard,
)


def main() -> None:
    # Each benchmark runs when its turn comes, so a figure is printed as soon as it is measured.
    for run in (
        *bench_platform.RUNS,
        bench_login.run,
        bench_node_search.run,
        bench_metrics.run,
        bench_deploy.run,
        bench_inflight.run,
        bench_wizard.run,
        bench_page_load.run,
        bench_apps_wizard.run,
    ):
        print(run(), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
