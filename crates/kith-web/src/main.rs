//! The Kith app's entry point; everything lives in the library (see `lib.rs`).

fn main() {
    kith_web::start();
}
