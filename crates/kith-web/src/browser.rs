//! Everything kith-web asks of the browser beyond the DOM Yew manages: randomness, the clock,
//! files in and out, the theme attribute, the URL fragment, storage persistence. One module,
//! so the rest of the app reads as plain Rust.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// `N` bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}

/// Writes a log line to the console: `console.error` for errors, `warn`, `info`, and
/// `debug` for the rest.
pub fn console(level: tracing::Level, line: &str) {
    let line = wasm_bindgen::JsValue::from_str(line);
    match level {
        tracing::Level::ERROR => web_sys::console::error_1(&line),
        tracing::Level::WARN => web_sys::console::warn_1(&line),
        tracing::Level::INFO => web_sys::console::info_1(&line),
        _ => web_sys::console::debug_1(&line),
    }
}

/// `performance.now()`: milliseconds since the page started loading.
pub fn perf_now() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}

/// Records a `performance.mark` (read by the benchmarks), once per name.
pub fn mark_once(name: &str) {
    if let Some(p) = window().and_then(|w| w.performance())
        && p.get_entries_by_name(name).length() == 0
    {
        let _ = p.mark(name);
    }
}

/// The page's origin, `http://127.0.0.1:8080`.
pub fn origin() -> String {
    window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// The URL fragment, with its `#`.
pub fn fragment() -> String {
    window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// Sets the URL fragment (which fires `hashchange`).
pub fn set_fragment(fragment: &str) {
    if let Some(w) = window() {
        let _ = w.location().set_hash(fragment);
    }
}

/// Scrolls to the top of the page.
pub fn scroll_to_top() {
    if let Some(w) = window() {
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
}

/// Whether the page is scrolled to within `margin` pixels of its end.
pub fn near_bottom(margin: f64) -> bool {
    let Some(w) = window() else { return false };
    let Some(doc) = w.document().and_then(|d| d.document_element()) else {
        return false;
    };
    let inner = w
        .inner_height()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let y = w.scroll_y().unwrap_or(0.0);
    y + inner + margin >= f64::from(doc.scroll_height())
}

/// Offers `bytes` to the person as a download called `name`.
pub fn download(bytes: &[u8], name: &str) -> Result<(), String> {
    let fail = |_| "the browser could not create the download".to_owned();
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/octet-stream");
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let doc = window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| "no anchor".to_owned())?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// The bytes of the first file chosen in `input`.
pub async fn read_chosen_file(input: &web_sys::HtmlInputElement) -> Result<Vec<u8>, String> {
    let file = input
        .files()
        .and_then(|f| f.get(0))
        .ok_or("choose a backup file first")?;
    let buf = JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| "the file could not be read".to_owned())?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

const THEME_KEY: &str = "kith-theme";

/// Applies the theme to the page (`<html data-theme>`) and remembers it for the next load
/// (index.html reads it before the app starts, so there is no flash).
pub fn apply_theme(theme: &str) {
    let Some(w) = window() else { return };
    if let Some(root) = w.document().and_then(|d| d.document_element()) {
        let _ = match theme {
            "light" | "dark" => root.set_attribute("data-theme", theme),
            _ => root.remove_attribute("data-theme"),
        };
    }
    if let Ok(Some(storage)) = w.local_storage() {
        let _ = storage.set_item(THEME_KEY, theme);
    }
}

/// Whether the browser already granted persistent storage (`navigator.storage.persisted()`).
pub async fn persisted() -> bool {
    let Some(w) = window() else { return false };
    let Ok(promise) = w.navigator().storage().persisted() else {
        return false;
    };
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Copies `text` to the clipboard (best effort).
pub fn copy(text: &str) {
    if let Some(w) = window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
}

/// Puts `message` on the page outside Yew's tree (used by the panic hook, when the app can no
/// longer render), so a crash is never a blank page.
pub fn show_fatal(message: &str) {
    let Some(doc) = window().and_then(|w| w.document()) else {
        return;
    };
    let (Ok(el), Some(body)) = (doc.create_element("div"), doc.body()) else {
        return;
    };
    el.set_class_name("fatal error");
    let _ = el.set_attribute("role", "alert");
    el.set_text_content(Some(message));
    let _ = body.prepend_with_node_1(&el);
}

/// Waits until this tab holds the Web Lock `name` and keeps it for the page's lifetime: the
/// browser releases it when the tab closes (or crashes), and grants it to the next tab that
/// asked, in order. Returns at once where the browser has no Web Locks (this tab then acts
/// alone). See `runtime.rs` for what holding it means.
pub async fn hold_lock(name: &str) {
    use futures::FutureExt;
    use js_sys::Reflect;
    use wasm_bindgen::JsValue;
    use wasm_bindgen::closure::Closure;

    let Some(w) = window() else { return };
    let locks = Reflect::get(&w.navigator(), &JsValue::from_str("locks"))
        .ok()
        .filter(JsValue::is_object);
    let request = locks.as_ref().and_then(|l| {
        Reflect::get(l, &JsValue::from_str("request"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    });
    let (Some(locks), Some(request)) = (locks, request) else {
        return;
    };
    let (granted, on_grant) = futures::channel::oneshot::channel::<()>();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
        let _ = granted.send(());
        // Never settles: the lock is held until the page goes away.
        js_sys::Promise::new(&mut |_, _| {})
    });
    let held = match request.call2(&locks, &JsValue::from_str(name), &callback) {
        Ok(p) => match p.dyn_into::<js_sys::Promise>() {
            Ok(p) => JsFuture::from(p),
            Err(_) => return,
        },
        Err(_) => return,
    };
    // The request's own promise settles only if it is refused (then: act alone).
    futures::select! {
        _ = on_grant.fuse() => {}
        _ = held.fuse() => {}
    }
}

/// A `BroadcastChannel` between this profile's tabs of the app, carrying text messages.
pub struct TabChannel {
    channel: web_sys::BroadcastChannel,
    _listener: gloo_events::EventListener,
}

/// How many messages from other tabs may wait to be read; more are dropped (they come only
/// from this profile's own tabs, and each says "re-read from the store", which a later one
/// says again).
pub const TAB_QUEUE: usize = 256;

impl TabChannel {
    /// Opens the channel `name`; messages other tabs post arrive on the receiver.
    pub fn open(
        name: &str,
    ) -> Result<(TabChannel, futures::channel::mpsc::Receiver<String>), String> {
        let channel = web_sys::BroadcastChannel::new(name)
            .map_err(|_| "this browser has no BroadcastChannel".to_owned())?;
        let (tx, rx) = futures::channel::mpsc::channel(TAB_QUEUE);
        let listener = gloo_events::EventListener::new(&channel, "message", move |e| {
            if let Some(text) = e
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string())
            {
                let _ = tx.clone().try_send(text);
            }
        });
        Ok((
            TabChannel {
                channel,
                _listener: listener,
            },
            rx,
        ))
    }

    /// Posts `text` to every other tab on the channel.
    pub fn post(&self, text: &str) {
        let _ = self
            .channel
            .post_message(&wasm_bindgen::JsValue::from_str(text));
    }
}

/// `?transport=websocket` or `?transport=webrtc-direct` in the page's URL restricts the dial
/// to one transport (for tests and for networks that block one).
pub fn transport_from_url() -> Option<kith_net::TransportKind> {
    let search = window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    match params.get("transport")?.as_str() {
        "websocket" => Some(kith_net::TransportKind::WebSocket),
        "webrtc-direct" => Some(kith_net::TransportKind::WebRtcDirect),
        _ => None,
    }
}

/// `?direct=off` in the page's URL keeps every connection to another browser relayed through
/// kith-node (for the benchmark that compares the two paths, and for networks where WebRTC
/// misbehaves).
pub fn direct_off_in_url() -> bool {
    let Some(search) = window().and_then(|w| w.location().search().ok()) else {
        return false;
    };
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()
        .and_then(|p| p.get("direct"))
        .is_some_and(|v| v == "off")
}

/// The serving kith-node's `/bootstrap.json`, or why it could not be had.
pub async fn fetch_bootstrap() -> Result<kith_core::BootstrapDoc, String> {
    let resp = gloo_net::http::Request::get("/bootstrap.json")
        .send()
        .await
        .map_err(|e| format!("kith-node is unreachable ({e})"))?;
    if !resp.ok() {
        return Err(format!("kith-node answered HTTP {}", resp.status()));
    }
    let bytes = resp
        .binary()
        .await
        .map_err(|e| format!("reading bootstrap.json failed: {e}"))?;
    kith_core::BootstrapDoc::parse(&bytes).map_err(|e| e.to_string())
}

/// A number in [0, 1) (jitter for retry delays).
pub fn random_unit() -> f64 {
    js_sys::Math::random()
}

/// Fills `buf` from the browser's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), String> {
    window()
        .ok_or("no window")?
        .crypto()
        .map_err(|_| "this browser has no Web Crypto".to_owned())?
        .get_random_values_with_u8_array(buf)
        .map_err(|_| "the browser refused to give random bytes".to_owned())?;
    Ok(())
}

/// Asks the browser to keep this origin's storage (`navigator.storage.persist()`).
pub async fn request_persistence() -> Result<bool, String> {
    kith_store::idb::request_persistence()
        .await
        .map_err(|e| e.to_string())
}

/// An object URL for `bytes` of type `mime` (revoke it with [`revoke_url`]).
pub fn object_url(bytes: &[u8], mime: &str) -> Result<String, String> {
    let fail = |_| "the browser could not show the image".to_owned();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).map_err(fail)?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)
}

/// Lets the browser free an object URL's bytes.
pub fn revoke_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// The files chosen in `input`, at most `max`.
pub fn chosen_files(input: &web_sys::HtmlInputElement, max: usize) -> Vec<web_sys::File> {
    let Some(list) = input.files() else {
        return Vec::new();
    };
    (0..list.length().min(max as u32))
        .filter_map(|i| list.get(i))
        .collect()
}

/// A picture the person chose, made ready to post: decoded by the browser (turned upright as
/// its camera said), drawn at most `max_side` on its longer side, and encoded anew as WebP,
/// which leaves every metadata block of the original behind (EXIF location included). The
/// encodings of [`ENCODE_LADDER`](kith_core::image::ENCODE_LADDER) are tried until one fits
/// in [`MAX_IMAGE_BYTES`](kith_core::image::MAX_IMAGE_BYTES); the result is checked as every
/// reader checks it ([`kith_core::ImageRef::of`]).
pub async fn prepare_image(file: &web_sys::File, max_side: u16) -> Result<Vec<u8>, String> {
    use kith_core::image::{ENCODE_LADDER, MAX_IMAGE_BYTES, fit_within};
    let name = file.name();
    let not_a_picture = |_| format!("“{name}” is not a picture this browser can open");
    let w = window().ok_or("no window")?;
    let bitmap: web_sys::ImageBitmap = JsFuture::from(
        w.create_image_bitmap_with_blob(file)
            .map_err(not_a_picture)?,
    )
    .await
    .map_err(not_a_picture)?
    .dyn_into()
    .map_err(|_| format!("“{name}” did not decode"))?;
    let (full_w, full_h) = fit_within(bitmap.width(), bitmap.height(), max_side);
    let fail = |what: &str| format!("preparing “{name}” failed: {what}");
    for (quality, per_mille) in ENCODE_LADDER {
        let side = |s: u16| (u32::from(s) * per_mille / 1000).max(1);
        let (cw, ch) = (side(full_w), side(full_h));
        let canvas = web_sys::OffscreenCanvas::new(cw, ch).map_err(|_| fail("no canvas"))?;
        let ctx: web_sys::OffscreenCanvasRenderingContext2d = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into().ok())
            .ok_or_else(|| fail("no 2D context"))?;
        ctx.draw_image_with_image_bitmap_and_dw_and_dh(
            &bitmap,
            0.0,
            0.0,
            f64::from(cw),
            f64::from(ch),
        )
        .map_err(|_| fail("drawing"))?;
        let opts = web_sys::ImageEncodeOptions::new();
        opts.set_type("image/webp");
        opts.set_quality(quality);
        let blob: web_sys::Blob = JsFuture::from(
            canvas
                .convert_to_blob_with_options(&opts)
                .map_err(|_| fail("encoding"))?,
        )
        .await
        .map_err(|_| fail("encoding"))?
        .dyn_into()
        .map_err(|_| fail("encoding"))?;
        if blob.size() > f64::from(MAX_IMAGE_BYTES) {
            continue;
        }
        let buf = JsFuture::from(blob.array_buffer())
            .await
            .map_err(|_| fail("reading"))?;
        let bytes = js_sys::Uint8Array::new(&buf).to_vec();
        bitmap.close();
        kith_core::ImageRef::of(&bytes, max_side).map_err(|e| fail(&e.to_string()))?;
        return Ok(bytes);
    }
    bitmap.close();
    Err(format!(
        "“{name}” stays larger than {} KB even made smaller",
        MAX_IMAGE_BYTES / 1024
    ))
}

/// Watches an element until it first comes near the viewport ([`when_near_view`]); dropping
/// it stops watching.
pub struct Watch {
    observer: web_sys::IntersectionObserver,
    _callback: wasm_bindgen::closure::Closure<dyn FnMut(js_sys::Array)>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// Calls `f` once, when `el` first comes within 800 pixels of the viewport (what is about to
/// be scrolled to loads first, and nothing further down loads before it is near). `None` when
/// the browser cannot watch: the caller then does the work at once.
pub fn when_near_view(el: &web_sys::Element, f: impl FnOnce() + 'static) -> Option<Watch> {
    let mut f = Some(f);
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut(js_sys::Array)>::new(
        move |entries: js_sys::Array| {
            let near = entries.iter().any(|e| {
                e.dyn_into::<web_sys::IntersectionObserverEntry>()
                    .is_ok_and(|e| e.is_intersecting())
            });
            if near && let Some(f) = f.take() {
                f();
            }
        },
    );
    let init = web_sys::IntersectionObserverInit::new();
    init.set_root_margin("800px");
    let observer =
        web_sys::IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &init)
            .ok()?;
    observer.observe(el);
    Some(Watch {
        observer,
        _callback: callback,
    })
}
