//! Rebuilds the store when a migration is added: `embed_migrations!` reads the
//! migration directories at compile time, and Cargo does not watch new files in them.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
