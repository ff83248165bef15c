//! `embed_migrations!` reads the migrations directory at compile time; without this a new
//! migration would not be embedded until some source file of the crate changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
