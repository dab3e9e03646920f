//! The browser entry point: defines `<ferry-files>`, which every Ferry page
//! uses (the standalone app's too); each element then mounts its own app.

fn main() {
    ferry_web::element::define();
}
