use actix_web::web;

use crate::startup::AppState;

pub mod admin_connections;
pub mod client_types;
pub mod clients;
pub mod public_connections;

pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    cfg.app_data(web::Data::new(state))
        .service(
            web::scope("/admin")
                .service(
                    web::resource("/client_types")
                        .get(client_types::list)
                        .post(client_types::create),
                )
                .service(
                    web::resource("/client_types/{id}")
                        .get(client_types::show)
                        .put(client_types::update)
                        .patch(client_types::update)
                        .delete(client_types::delete),
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
