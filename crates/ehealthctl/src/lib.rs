//! `ehealthctl`: what a platform team uses instead of curl against the internal admin APIs.
//!
//! Each command is one admin call (or a name lookup and one call): it validates nothing the API
//! validates itself, so the API's own message is what an operator sees when a call is refused
//! (printed to stderr, exit status 1). Tables for people, `--output json` (the answer's `data`)
//! for scripts. The admin token comes from `--admin-token`, `EHEALTH_ADMIN_TOKEN`, or a file
//! (`--admin-token-file`, `EHEALTH_ADMIN_TOKEN_FILE`), and is sent to every service.

mod api;
mod output;

use std::io::Read;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

pub use api::ApiFailure;
use api::{Api, Endpoints, Service, enc};
use output::Format;

#[derive(Parser, Debug)]
#[command(
    name = "ehealthctl",
    version,
    about = "Operate the eHealth authorization layer through its internal admin APIs."
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// mithril-api's base URL.
    #[arg(
        long,
        env = "EHEALTH_MITHRIL_URL",
        default_value = "http://127.0.0.1:4010",
        global = true
    )]
    mithril_url: String,
    /// auth-token's base URL.
    #[arg(
        long,
        env = "EHEALTH_AUTH_URL",
        default_value = "http://127.0.0.1:4020",
        global = true
    )]
    auth_url: String,
    /// employee-roles' base URL.
    #[arg(
        long,
        env = "EHEALTH_ROLES_URL",
        default_value = "http://127.0.0.1:4030",
        global = true
    )]
    roles_url: String,
    /// The admin token (prefer the environment or a file: a flag shows in `ps`).
    #[arg(
        long,
        env = "EHEALTH_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    admin_token: Option<String>,
    /// A file holding the admin token (a mounted Secret).
    #[arg(long, env = "EHEALTH_ADMIN_TOKEN_FILE", global = true)]
    admin_token_file: Option<std::path::PathBuf>,
    /// Who acts, for the audit log of registry writes (x-consumer-id).
    #[arg(long, env = "EHEALTH_ACTOR", global = true)]
    actor: Option<String>,
    /// `table` for people, `json` for scripts.
    #[arg(long, short, value_enum, default_value = "table", global = true)]
    output: Format,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Client types and the scopes their clients may be granted.
    #[command(subcommand)]
    ClientTypes(Named),
    /// Roles and their scopes.
    #[command(subcommand)]
    Roles(Named),
    /// OAuth clients (an MSP, a MIS, a pharmacy).
    #[command(subcommand)]
    Clients(Clients),
    /// A client's connections (redirect URI and secret per consumer).
    #[command(subcommand)]
    Connections(Connections),
    /// Users (people who log in).
    #[command(subcommand)]
    Users(Users),
    /// Roles of users within clients, and global roles.
    #[command(subcommand)]
    UserRoles(UserRoles),
    /// A user's approvals of clients (apps).
    #[command(subcommand)]
    Approvals(Approvals),
    /// Provider-registry reference data: legal entities.
    #[command(subcommand)]
    LegalEntities(Registry),
    /// Provider-registry reference data: employees.
    #[command(subcommand)]
    Employees(Registry),
    /// Provider-registry reference data: healthcare services.
    #[command(subcommand)]
    HealthcareServices(Registry),
    /// Provider-registry reference data: parties (verification status, users).
    #[command(subcommand)]
    Parties(Registry),
    /// Issued tokens: list, revoke a user's or a client's.
    #[command(subcommand)]
    Tokens(Tokens),
}

/// Client types and roles: a name and a scope.
#[derive(Subcommand, Debug)]
enum Named {
    List {
        #[arg(long)]
        name: Option<String>,
    },
    Show {
        id: String,
    },
    Create {
        #[arg(long)]
        name: String,
        /// Space-separated scopes.
        #[arg(long)]
        scope: String,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        scope: Option<String>,
    },
    Delete {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum Clients {
    List {
        #[arg(long)]
        name: Option<String>,
    },
    Show {
        id: String,
    },
    Create(ClientFields),
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        broker_scope: Option<String>,
        #[arg(long, value_parser = ["DIRECT", "BROKER"])]
        access_type: Option<String>,
        /// Whether it may introspect any token at /oauth/introspect (a resource server).
        #[arg(long)]
        introspection: Option<bool>,
    },
    /// Refuse the client's tokens and new authorizations.
    Block {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    Unblock {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Args, Debug)]
struct ClientFields {
    #[arg(long)]
    name: String,
    /// The client type, by name (MSP, MIS, PHARMACY, ...) or id.
    #[arg(long = "type")]
    client_type: String,
    /// The user who owns the client.
    #[arg(long)]
    owner: String,
    #[arg(long, value_parser = ["DIRECT", "BROKER"], default_value = "DIRECT")]
    access_type: String,
    /// For a MIS: the scopes it may broker for its clinics.
    #[arg(long)]
    broker_scope: Option<String>,
    /// It may introspect any token at /oauth/introspect (a resource server); otherwise only
    /// its own.
    #[arg(long)]
    introspection: bool,
    /// Comma-separated grant types the client may use.
    #[arg(long, value_delimiter = ',')]
    grant_types: Vec<String>,
    /// Create it with this id (idempotent: PUT).
    #[arg(long)]
    id: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Connections {
    List {
        client: String,
    },
    Show {
        client: String,
        id: String,
    },
    /// Connect a consumer (a MIS, or the client itself) to the client; prints the secret once.
    Create {
        client: String,
        #[arg(long)]
        consumer: String,
        #[arg(long)]
        redirect_uri: String,
        /// A public connection (a native or browser app): no secret; its codes need PKCE.
        #[arg(long)]
        public: bool,
    },
    Update {
        client: String,
        id: String,
        #[arg(long)]
        redirect_uri: String,
    },
    /// A new secret (shown once); the old one stops working.
    RefreshSecret {
        client: String,
        id: String,
    },
    Delete {
        client: String,
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum Users {
    List {
        #[arg(long)]
        email: Option<String>,
    },
    Show {
        id: String,
    },
    /// The password is read from stdin (one line) unless --password is given.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, env = "EHEALTH_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        tax_id: Option<String>,
    },
    Block {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    Unblock {
        id: String,
    },
    /// End a login lockout (failed passwords) at once.
    Unlock {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserRoles {
    List {
        user: String,
    },
    /// Give a user a role (by name or id) within a client.
    Grant {
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        client: String,
    },
    /// Give a user a global role (by name or id).
    GrantGlobal {
        user: String,
        #[arg(long)]
        role: String,
    },
    /// Take back a user role (by its id).
    Revoke {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum Approvals {
    List {
        #[arg(long)]
        user: String,
    },
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        client: String,
        #[arg(long)]
        scope: String,
    },
    /// Withdraw an approval: the client's tokens for the user expire.
    Delete {
        id: String,
        #[arg(long)]
        user: String,
    },
}

/// Reference data pushed from the provider registry.
#[derive(Subcommand, Debug)]
enum Registry {
    /// Create or replace one record from a JSON document (--data, or --file; `-` is stdin).
    Put {
        id: String,
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        data: Option<String>,
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Employee roles of an employee (employees only).
    Roles {
        id: String,
        #[arg(long)]
        status: Option<String>,
    },
    /// Deactivate every ACTIVE employee role of the employee or legal entity.
    DeactivateRoles { id: String },
}

#[derive(Subcommand, Debug)]
enum Tokens {
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        client: Option<String>,
    },
    /// Revoke every token of a user.
    RevokeUser { user: String },
    /// Revoke every token issued for a client.
    RevokeClient { client: String },
}

/// One admin call: method, service, path, body; `columns` for a table of its list.
struct Call {
    method: Method,
    service: Service,
    path: String,
    body: Option<Value>,
    columns: &'static [&'static str],
    /// Printed to stderr after the answer (the shown-once secret, for instance).
    note: Option<&'static str>,
}

impl Call {
    fn new(method: Method, service: Service, path: String) -> Self {
        Self {
            method,
            service,
            path,
            body: None,
            columns: &[],
            note: None,
        }
    }
    fn get(service: Service, path: String) -> Self {
        Self::new(Method::GET, service, path)
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn columns(mut self, columns: &'static [&'static str]) -> Self {
        self.columns = columns;
        self
    }
    fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

/// Parses the command line, runs the command, prints its answer; the process exits 1 on an error.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let token = admin_token(&cli.global)?;
    let global = cli.global;
    let mut actor = global.actor.clone();
    // Approvals belong to the user they are listed for: that user is the actor.
    if let Command::Approvals(Approvals::List { user } | Approvals::Delete { user, .. }) =
        &cli.command
    {
        actor = Some(user.clone());
    }
    let api = Api::new(
        Endpoints {
            mithril: global.mithril_url,
            auth: global.auth_url,
            roles: global.roles_url,
        },
        token,
        actor,
    )?;
    let call = plan(&api, cli.command).await?;
    let answer = api
        .call(call.method, call.service, &call.path, call.body)
        .await?;
    println!("{}", output::render(&answer, global.output, call.columns));
    if let Some(note) = call.note {
        eprintln!("{note}");
    }
    Ok(())
}

fn admin_token(g: &Global) -> anyhow::Result<Option<String>> {
    if let Some(t) = &g.admin_token {
        return Ok(Some(t.trim().to_owned()));
    }
    match &g.admin_token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the admin token from {}", path.display()))
            .map(|t| Some(t.trim().to_owned())),
        None => Ok(None),
    }
}

async fn plan(api: &Api, command: Command) -> anyhow::Result<Call> {
    use Service::{Auth, Mithril};
    Ok(match command {
        Command::ClientTypes(c) => named(c, "/admin/client_types", "client_type"),
        Command::Roles(c) => named(c, "/admin/roles", "role"),
        Command::Clients(c) => match c {
            Clients::List { name } => {
                Call::get(Mithril, with_query("/admin/clients", &[("name", name)])).columns(&[
                    "id",
                    "name",
                    "client_type_id",
                    "is_blocked",
                ])
            }
            Clients::Show { id } => Call::get(Mithril, format!("/admin/clients/{}", enc(&id))),
            Clients::Create(f) => {
                let type_id = id_of(api, Mithril, "/admin/client_types", &f.client_type).await?;
                let mut priv_settings = json!({"access_type": f.access_type});
                if let Some(b) = f.broker_scope {
                    priv_settings["broker_scope"] = json!(b);
                }
                if f.introspection {
                    priv_settings["introspection"] = json!(true);
                }
                let mut client = json!({"name": f.name, "user_id": f.owner,
                    "client_type_id": type_id, "priv_settings": priv_settings});
                if !f.grant_types.is_empty() {
                    client["settings"] = json!({"allowed_grant_types": f.grant_types});
                }
                match f.id {
                    Some(id) => {
                        Call::new(Method::PUT, Mithril, format!("/admin/clients/{}", enc(&id)))
                    }
                    None => Call::new(Method::POST, Mithril, "/admin/clients".into()),
                }
                .body(json!({"client": client}))
            }
            Clients::Update {
                id,
                name,
                broker_scope,
                access_type,
                introspection,
            } => {
                let mut client = json!({});
                if let Some(n) = name {
                    client["name"] = json!(n);
                }
                if access_type.is_some() || broker_scope.is_some() || introspection.is_some() {
                    let current = api
                        .call(
                            Method::GET,
                            Mithril,
                            &format!("/admin/clients/{}", enc(&id)),
                            None,
                        )
                        .await?;
                    let mut p = current["data"]["priv_settings"].clone();
                    if let Some(a) = access_type {
                        p["access_type"] = json!(a);
                    }
                    if let Some(b) = broker_scope {
                        p["broker_scope"] = json!(b);
                    }
                    if let Some(i) = introspection {
                        p["introspection"] = json!(i);
                    }
                    client["priv_settings"] = p;
                }
                Call::new(
                    Method::PATCH,
                    Mithril,
                    format!("/admin/clients/{}", enc(&id)),
                )
                .body(json!({"client": client}))
            }
            Clients::Block { id, reason } => Call::new(
                Method::PATCH,
                Mithril,
                format!("/admin/clients/{}", enc(&id)),
            )
            .body(json!({"client": {"is_blocked": true, "block_reason": reason}})),
            Clients::Unblock { id } => Call::new(
                Method::PATCH,
                Mithril,
                format!("/admin/clients/{}", enc(&id)),
            )
            .body(json!({"client": {"is_blocked": false, "block_reason": null}})),
            Clients::Delete { id } => Call::new(
                Method::DELETE,
                Mithril,
                format!("/admin/clients/{}", enc(&id)),
            ),
        },
        Command::Connections(c) => {
            let base = |client: &str| format!("/admin/clients/{}/connections", enc(client));
            match c {
                Connections::List { client } => Call::get(Mithril, base(&client)).columns(&[
                    "id",
                    "consumer_id",
                    "redirect_uri",
                    "is_public",
                ]),
                Connections::Show { client, id } => {
                    Call::get(Mithril, format!("{}/{}", base(&client), enc(&id)))
                }
                Connections::Create {
                    client,
                    consumer,
                    redirect_uri,
                    public,
                } => Call::new(Method::PUT, Mithril, base(&client))
                    .body(
                        json!({"consumer_id": consumer, "redirect_uri": redirect_uri,
                                 "is_public": public}),
                    )
                    .note(if public {
                        "A public connection has no secret: its clients redeem codes with PKCE."
                    } else {
                        "The secret is shown only now: store it."
                    }),
                Connections::Update {
                    client,
                    id,
                    redirect_uri,
                } => Call::new(
                    Method::PATCH,
                    Mithril,
                    format!("{}/{}", base(&client), enc(&id)),
                )
                .body(json!({"redirect_uri": redirect_uri})),
                Connections::RefreshSecret { client, id } => Call::new(
                    Method::PATCH,
                    Mithril,
                    format!("{}/{}/actions/refresh_secret", base(&client), enc(&id)),
                )
                .note("The secret is shown only now: store it."),
                Connections::Delete { client, id } => Call::new(
                    Method::DELETE,
                    Mithril,
                    format!("{}/{}", base(&client), enc(&id)),
                ),
            }
        }
        Command::Users(c) => match c {
            Users::List { email } => {
                Call::get(Mithril, with_query("/admin/users", &[("email", email)])).columns(&[
                    "id",
                    "email",
                    "is_blocked",
                ])
            }
            Users::Show { id } => Call::get(Mithril, format!("/admin/users/{}", enc(&id))),
            Users::Create {
                email,
                password,
                tax_id,
            } => {
                let password = match password {
                    Some(p) => p,
                    None => read_stdin_line().context("reading the password from stdin")?,
                };
                let mut user = json!({"email": email, "password": password});
                if let Some(t) = tax_id {
                    user["tax_id"] = json!(t);
                }
                Call::new(Method::POST, Mithril, "/admin/users".into()).body(json!({"user": user}))
            }
            Users::Block { id, reason } => Call::new(
                Method::PATCH,
                Mithril,
                format!("/admin/users/{}/actions/block", enc(&id)),
            )
            .body(json!({"user": {"block_reason": reason}})),
            Users::Unblock { id } => Call::new(
                Method::PATCH,
                Mithril,
                format!("/admin/users/{}/actions/unblock", enc(&id)),
            ),
            Users::Unlock { id } => Call::new(
                Method::PATCH,
                Mithril,
                format!("/admin/users/{}/actions/unlock", enc(&id)),
            ),
            Users::Delete { id } => Call::new(
                Method::DELETE,
                Mithril,
                format!("/admin/users/{}", enc(&id)),
            ),
        },
        Command::UserRoles(c) => match c {
            UserRoles::List { user } => {
                Call::get(Mithril, format!("/admin/users/{}/roles", enc(&user))).columns(&[
                    "id",
                    "role_name",
                    "client_name",
                    "client_id",
                ])
            }
            UserRoles::Grant { user, role, client } => {
                let role_id = id_of(api, Mithril, "/admin/roles", &role).await?;
                Call::new(
                    Method::POST,
                    Mithril,
                    format!("/admin/users/{}/roles", enc(&user)),
                )
                .body(json!({"user_role": {"role_id": role_id, "client_id": client}}))
            }
            UserRoles::GrantGlobal { user, role } => {
                let role_id = id_of(api, Mithril, "/admin/roles", &role).await?;
                Call::new(
                    Method::POST,
                    Mithril,
                    format!("/admin/users/{}/global_roles", enc(&user)),
                )
                .body(json!({"global_user_role": {"role_id": role_id}}))
            }
            UserRoles::Revoke { id } => Call::new(
                Method::DELETE,
                Mithril,
                format!("/admin/users/roles/{}", enc(&id)),
            ),
        },
        Command::Approvals(c) => match c {
            Approvals::List { .. } => {
                Call::get(Mithril, "/admin/apps".into()).columns(&["id", "client_id", "scope"])
            }
            Approvals::Create {
                user,
                client,
                scope,
            } => Call::new(Method::POST, Mithril, "/admin/apps".into())
                .body(json!({"app": {"user_id": user, "client_id": client, "scope": scope}})),
            Approvals::Delete { id, .. } => {
                Call::new(Method::DELETE, Mithril, format!("/admin/apps/{}", enc(&id)))
            }
        },
        Command::LegalEntities(c) => registry(c, "legal_entities")?,
        Command::Employees(c) => registry(c, "employees")?,
        Command::HealthcareServices(c) => registry(c, "healthcare_services")?,
        Command::Parties(c) => registry(c, "parties")?,
        Command::Tokens(c) => match c {
            Tokens::List { user, client } => Call::get(
                Auth,
                with_query("/admin/tokens", &[("user_id", user), ("client_id", client)]),
            )
            .columns(&["id", "name", "user_id", "expires_at"]),
            Tokens::RevokeUser { user } => Call::new(
                Method::DELETE,
                Auth,
                format!("/admin/users/{}/tokens", enc(&user)),
            ),
            Tokens::RevokeClient { client } => Call::new(
                Method::PATCH,
                Auth,
                format!("/admin/clients/{}/actions/deactivate_tokens", enc(&client)),
            ),
        },
    })
}

fn named(c: Named, base: &str, key: &str) -> Call {
    let item = |id: &str| format!("{base}/{}", enc(id));
    match c {
        Named::List { name } => Call::get(Service::Mithril, with_query(base, &[("name", name)]))
            .columns(&["id", "name", "scope"]),
        Named::Show { id } => Call::get(Service::Mithril, item(&id)),
        Named::Create { name, scope } => Call::new(Method::POST, Service::Mithril, base.into())
            .body(json!({key: {"name": name, "scope": scope}})),
        Named::Update { id, name, scope } => {
            let mut fields = json!({});
            if let Some(n) = name {
                fields["name"] = json!(n);
            }
            if let Some(s) = scope {
                fields["scope"] = json!(s);
            }
            Call::new(Method::PATCH, Service::Mithril, item(&id)).body(json!({key: fields}))
        }
        Named::Delete { id } => Call::new(Method::DELETE, Service::Mithril, item(&id)),
    }
}

fn registry(c: Registry, collection: &str) -> anyhow::Result<Call> {
    let item = |id: &str| format!("/admin/{collection}/{}", enc(id));
    Ok(match c {
        Registry::Put { id, data, file } => {
            let text = match (data, file) {
                (Some(d), _) => d,
                (None, Some(path)) if path.as_os_str() == "-" => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading stdin")?;
                    s
                }
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
                (None, None) => anyhow::bail!("give --data or --file"),
            };
            let body: Value = serde_json::from_str(&text).context("the document is not JSON")?;
            Call::new(Method::PUT, Service::Roles, item(&id)).body(body)
        }
        Registry::Roles { id, status } => {
            anyhow::ensure!(
                collection == "employees",
                "roles: only employees have roles"
            );
            Call::get(
                Service::Roles,
                with_query(
                    &format!("{}/employee_roles", item(&id)),
                    &[("status", status)],
                ),
            )
            .columns(&["id", "status", "healthcare_service_id", "start_date"])
        }
        Registry::DeactivateRoles { id } => {
            anyhow::ensure!(
                matches!(collection, "employees" | "legal_entities"),
                "deactivate-roles: employees and legal entities only"
            );
            Call::new(
                Method::PATCH,
                Service::Roles,
                format!("{}/employee_roles/actions/deactivate", item(&id)),
            )
        }
    })
}

/// The id behind `name_or_id` in `collection` (`?name=`): a UUID is taken as it is.
async fn id_of(
    api: &Api,
    service: Service,
    collection: &str,
    name_or_id: &str,
) -> anyhow::Result<String> {
    if uuid::Uuid::parse_str(name_or_id).is_ok() {
        return Ok(name_or_id.to_owned());
    }
    let found = api
        .call(
            Method::GET,
            service,
            &format!("{collection}?name={}", enc(name_or_id)),
            None,
        )
        .await?;
    found["data"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "no {} named {name_or_id:?}",
                collection.trim_start_matches("/admin/")
            )
        })
}

fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !line.is_empty(),
        "no password on stdin (or give --password)"
    );
    Ok(line)
}
