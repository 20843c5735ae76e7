# Stand-in for the official `postgres:15` image where no registry can be reached (`make test-compose`), built on
# the local Debian bookworm base with Debian's PostgreSQL 15. What deploy/docker-compose.yml uses behaves alike:
# port 5432, POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the role and database on first start, the data
# in PGDATA (/var/lib/postgresql/data, a volume), `pg_isready` for the healthcheck. It runs as `postgres`, never root.
ARG BASE_IMAGE=marketplace-base:bookworm
FROM ${BASE_IMAGE}

RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 0700 /var/lib/postgresql/data
COPY deploy/images/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh

ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]
