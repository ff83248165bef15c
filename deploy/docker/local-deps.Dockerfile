# Stand-ins for Docker Hub's postgres:15 and redis:7, for machines with no registry
# (make compose-check builds them FROM the debootstrap base). They honour what
# docker-compose.yml uses of the official images: POSTGRES_PASSWORD, POSTGRES_DB,
# /docker-entrypoint-initdb.d/*.sql and *.sh, port 5432; redis on 6379. Plus a toolbox (curl, python3)
# that runs the compose check's calls from inside the network.
ARG BASE_IMAGE=localhost/ehealth-base:bookworm

FROM ${BASE_IMAGE} AS postgres
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      postgresql-15 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /docker-entrypoint-initdb.d /run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
COPY deploy/docker/local-postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]

FROM ${BASE_IMAGE} AS redis
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      redis-server && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
ENTRYPOINT ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]

FROM ${BASE_IMAGE} AS toolbox
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      bash curl python3 && rm -rf /var/lib/apt/lists/*
USER 10002:10002
