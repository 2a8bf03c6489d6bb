//! `dermasim serve`: the clinic web app (crate `dermasim-web`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// SQLite database file (created with migrations applied when missing), or a PostgreSQL
    /// server as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (migrated at start). Default:
    /// $XDG_DATA_HOME/dermasim/dermasim.db, else ~/.local/share/dermasim/dermasim.db.
    #[arg(long, value_name = "PATH|URL")]
    db: Option<PathBuf>,
    /// Folder for photos (created when missing; refused at start when not writable). Default:
    /// NAME.photos beside a SQLite file; with PostgreSQL $XDG_DATA_HOME/dermasim/photos, else
    /// ~/.local/share/dermasim/photos.
    #[arg(long, value_name = "DIR")]
    photos: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Create this account, print its one-time password and exit.
    #[arg(long, value_name = "NAME", requires = "role")]
    create_user: Option<String>,
    /// Role of --create-user: administrator, practitioner, reception or researcher.
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// Clinic of --create-user (created when missing; default: the first clinic).
    #[arg(long, value_name = "NAME", requires = "create_user")]
    clinic: Option<String>,
    /// Mark cookies Secure: set when a TLS proxy serves the app over https.
    #[arg(long)]
    behind_tls: bool,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let db = args.db.unwrap_or_else(dermasim_web::default_db_path);
    let config =
        dermasim_web::Config { secure_cookies: args.behind_tls, photo_dir: args.photos.clone() };
    let rt = dermasim_web::runtime()?;
    rt.block_on(async {
        let app = dermasim_web::App::open(&db, config)
            .with_context(|| format!("cannot open the database {}", shown(&db)))?;
        let store = dermasim_web::Store::parse(&db)?;
        if let Some(name) = &args.create_user {
            let role = args.role.as_deref().unwrap_or_default();
            let password = app.create_user(name, role, args.clinic.as_deref())?;
            outln!("created {name} ({role}); one-time password (change it at first sign-in): {password}");
            return Ok(());
        }
        if let Some(password) = app.bootstrap()? {
            outln!("first start: created administrator `admin`; one-time password (change it at first sign-in): {password}");
        }
        let listener = dermasim_web::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        outln!("database {}", store.shown());
        outln!("photos {}", app.photo_dir().display());
        outln!("dermasim serve: http://{}/ (Ctrl-C stops)", listener.local_addr()?);
        dermasim_web::serve(listener, app).await?;
        Ok(())
    })
}

/// The database as named in messages: a URL only by its scheme, since it may hold a password.
fn shown(db: &std::path::Path) -> String {
    let text = db.to_string_lossy();
    match text.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://..."),
        None => db.display().to_string(),
    }
}
