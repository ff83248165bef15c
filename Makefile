# Two commands matter: `make run` (the stack on this machine) and `make test` (everything).
CARGO ?= cargo

.PHONY: run test fmt lint build migrate clean-dev-db bench-auth bench-gatekeeper bench-roles compose-env compose-check k8s-check contract docs-check sign-in-check client-check oauth-check verify fuzz

run: ## Start Postgres (under target/) and the services, load demo data, print how to call them
	bash deploy/local/run.sh

test: ## All unit and integration tests (real PostgreSQL from the local binaries, or TEST_DATABASE_URL)
	$(CARGO) test --workspace --locked

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p gatekeeper --features fuzzing --locked -- -D warnings

build:
	$(CARGO) build --workspace --release --locked

migrate: ## Apply mithril migrations to MITHRIL_API__DATABASE__URL
	$(CARGO) run -q -p mithril-api -- migrate

clean-dev-db: ## Forget the local cluster of `make run`
	rm -rf target/dev-pg

bench-auth: ## auth-token code exchange and verify vs pgbench on the same Postgres (bench/RESULTS.md)
	bash bench/auth-token/run.sh

bench-gatekeeper: ## gatekeeper pass-through and token+scope vs an nginx keepalive proxy, one origin (bench/RESULTS.md)
	bash bench/gatekeeper/run.sh

bench-roles: ## employee-roles get-by-id and deactivate vs pgbench on the same Postgres (bench/RESULTS.md)
	bash bench/employee-roles/run.sh

compose-env: ## Write .env with fresh credentials for docker compose / podman-compose (kept if present)
	bash deploy/docker/compose-env.sh

compose-check: ## Build the images, start the compose stack with podman, check it from outside and inside, tear down
	bash deploy/docker/compose-check.sh

contract: ## schemathesis (--checks all, stateful phase included) against every service's OpenAPI document on a fresh stack
	bash deploy/contract/run.sh

docs-check: ## Every /docs page in headless Chromium with the network cut off but loopback (screenshots in target/docs)
	bash deploy/docs/run.sh

sign-in-check: ## The sign-in pages in headless Chromium through the gateway: the flow to a code and a seed call, SMS codes, refusals (screenshots in target/sign-in)
	bash deploy/docs/sign-in.sh

verify: ## Faults under load on a fresh stack (Postgres restarted, auth-token killed, Redis and ABAC lost, a rolling restart behind haproxy; secrets at rest): figures in target/verify/results.json and bench/RELIABILITY.md; VERIFY_SHORT=1 for the CI form
	bash deploy/verify/run.sh

fuzz: ## cargo fuzz targets (the own HTTP/1.1 path and chunked scanner against hyper, path normalization and routing, rule matching, route files, request ids, JSON bodies), FUZZ_SECONDS each (60)
	bash deploy/fuzz/run.sh

oauth-check: ## A stock OAuth 2 client (authlib, pinned) runs the standard flow with PKCE through the gateway: token, seed call, refresh, introspect, revoke
	bash deploy/oauth/run.sh

client-check: ## A client generated from the gateway's public document (openapi-python-client) runs seeds 000-004 through the gateway
	bash deploy/client/run.sh

k8s-check: ## Render every kustomize overlay, validate it against the Kubernetes schemas, assert the policies
	bash deploy/k8s/check.sh
