use actix_web::web;

use crate::startup::AppState;

pub mod admin_connections;
pub mod apps;
pub mod client_types;
pub mod clients;
pub mod factors;
mod named_scopes;
pub mod public_connections;
pub mod roles;
pub mod user_roles;
pub mod users;

pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    cfg.app_data(web::Data::new(state))
        .configure(client_types::routes)
        .configure(roles::routes)
        .service(
            web::scope("/admin")
                .service(web::resource("/users").get(users::list).post(users::create))
                // Before /users/{id}/..., which would read "roles" as a user id.
                .service(web::resource("/users/roles/{id}").delete(user_roles::delete))
                .service(
                    web::resource("/users/{id}")
                        .get(users::show)
                        .put(users::update)
                        .patch(users::update)
                        .delete(users::delete),
                )
                .service(web::resource("/users/{id}/actions/block").patch(users::block))
                .service(web::resource("/users/{id}/actions/unblock").patch(users::unblock))
                .service(web::resource("/users/{id}/actions/unlock").patch(users::unlock))
                .service(
                    web::resource("/users/{user_id}/authentication_factors")
                        .get(factors::list)
                        .post(factors::create),
                )
                .service(
                    web::resource("/users/{user_id}/authentication_factors/{id}")
                        .get(factors::show),
                )
                .service(
                    web::resource("/users/{user_id}/authentication_factors/{id}/actions/reset")
                        .patch(factors::reset),
                )
                .service(
                    web::resource("/users/{user_id}/authentication_factors/{id}/actions/disable")
                        .patch(factors::disable),
                )
                .service(
                    web::resource("/users/{user_id}/authentication_factors/{id}/actions/enable")
                        .patch(factors::enable),
                )
                .service(
                    web::resource("/users/{user_id}/roles")
                        .get(user_roles::list_for_user)
                        .post(user_roles::create)
                        .delete(user_roles::delete_by_user),
                )
                .service(web::resource("/users/{user_id}/roles/{id}").get(user_roles::show))
                .service(
                    web::resource("/users/{user_id}/global_roles").post(user_roles::grant_global),
                )
                .service(
                    web::resource("/users/{user_id}/global_roles/{id}")
                        .get(user_roles::show_global),
                )
                .service(web::resource("/users/{user_id}/apps").delete(apps::delete_by_user))
                .service(web::resource("/user_roles").get(user_roles::list))
                .service(web::resource("/apps").get(apps::list).post(apps::create))
                .service(
                    web::resource("/apps/{id}")
                        .get(apps::show)
                        .put(apps::update)
                        .patch(apps::update)
                        .delete(apps::delete),
                )
                .service(
                    web::resource("/clients")
                        .get(clients::list)
                        .post(clients::create),
                )
                .service(
                    web::resource("/clients/{id}")
                        .get(clients::show)
                        .put(clients::upsert)
                        .patch(clients::upsert)
                        .delete(clients::delete),
                )
                .service(web::resource("/clients/{id}/details").get(clients::details))
                .service(
                    web::resource("/clients/{client_id}/connections")
                        .get(admin_connections::list)
                        .put(admin_connections::upsert),
                )
                .service(
                    web::resource("/clients/{client_id}/connections/{id}")
                        .get(admin_connections::show)
                        .patch(admin_connections::update)
                        .delete(admin_connections::delete),
                )
                .service(
                    web::resource("/clients/{client_id}/connections/{id}/actions/refresh_secret")
                        .patch(admin_connections::refresh_secret),
                ),
        )
        .service(
            web::scope("/api/clients/{id}/connections")
                .service(web::resource("").get(public_connections::list))
                .service(
                    web::resource("/{connection_id}")
                        .get(public_connections::show)
                        .patch(public_connections::update)
                        .delete(public_connections::delete),
                )
                .service(
                    web::resource("/{connection_id}/actions/refresh_secret")
                        .patch(public_connections::refresh_secret),
                ),
        );
}
