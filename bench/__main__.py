"""``make bench``: run every benchmark and print Markdown tables (copied into the README)."""

from __future__ import annotations

from bench import bench_login, bench_node_search, bench_platform


def main() -> None:
    for table in [*bench_platform.run(), bench_login.run(), bench_node_search.run()]:
        print(table, end="\n\n", flush=True)


if __name__ == "__main__":
    main()
