//! LocalGPT's desktop app: an eframe/egui window that is a client of the daemon's HTTP API, the
//! same API the web UI uses. Chat with streamed markdown answers, tool calls inline and
//! Approve/Deny before a tool runs; conversations; memory search and reindex; status.
//!
//! Network I/O runs on its own thread ([`client`]); the window draws only when something
//! changed (a reply arrived, the user did something), so an idle window costs no CPU.

pub mod app;
pub mod client;
pub mod export;
pub mod protocol;
pub mod sse;
pub mod views;

pub use app::DesktopApp;
/// The egui the app is drawn with (for tests that drive it).
pub use eframe::egui;

/// Where the daemon is and how to prove the caller is its owner.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `http://127.0.0.1:31327`.
    pub base_url: String,
    /// The owner token (`server.auth_token`), sent only to `base_url`.
    pub token: Option<String>,
    /// A line shown at the top of the window (e.g. that the daemon was started for it).
    pub notice: Option<String>,
    /// Where exported conversations are saved.
    pub export_dir: std::path::PathBuf,
}

/// Why the window could not run.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// The network thread or its runtime could not be set up.
    #[error("setting up the connection: {0}")]
    Setup(String),
    /// The window system refused (no display, no OpenGL).
    #[error("opening the window: {0}")]
    Window(String),
}

/// Opens the window and runs until it is closed.
pub fn run(connection: Connection) -> Result<(), DesktopError> {
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("LocalGPT")
            .with_app_id("localgpt")
            .with_inner_size([1100.0, 720.0])
            .with_min_inner_size([520.0, 360.0]),
        ..Default::default()
    };
    let asked = std::time::Instant::now();
    let app = FirstFrame {
        app: DesktopApp::new(connection)?,
        asked,
        drawn: false,
    };
    eframe::run_native("LocalGPT", options, Box::new(move |_| Ok(Box::new(app))))
        .map_err(|error| DesktopError::Window(error.to_string()))
}

/// The app, logging (at `info`) how long the first frame took from the moment the window was
/// asked for: what `bench/desktop/first-frame.sh` measures.
struct FirstFrame {
    app: DesktopApp,
    asked: std::time::Instant,
    drawn: bool,
}

impl eframe::App for FirstFrame {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.app.ui(ui, frame);
        if !self.drawn {
            self.drawn = true;
            tracing::info!(
                ms = self.asked.elapsed().as_millis() as u64,
                "desktop: first frame drawn"
            );
        }
    }
}
