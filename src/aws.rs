//! AWS SDK configuration from a source's validated settings.
//!
//! Credentials: static keys when configured, else a named profile, else the SDK's default chain
//! (environment, shared config and SSO, web identity, ECS, IMDSv2); then, when `role_arn` is set,
//! a role assumed through STS on top of them. `endpoint` points clients at S3-compatible stores.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, tls};

use crate::config::{AwsSettings, Credentials as CredentialSource, Proxy};

/// The HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    /// `ProxyServer` / `ProxyPort` do not make a proxy URL.
    #[error("proxy {server}:{port}: {reason}")]
    Proxy {
        /// `ProxyServer`.
        server: String,
        /// `ProxyPort`.
        port: u16,
        /// What is wrong.
        reason: String,
    },
}

/// The SDK configuration for one source.
pub async fn sdk_config(settings: &AwsSettings) -> Result<SdkConfig, AwsSetupError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .http_client(http_client(proxy_config(settings.proxy.as_ref())?))
        .timeout_config(timeouts());
    match &settings.credentials {
        CredentialSource::Static { access_key_id, secret_access_key } => {
            let credentials = Credentials::new(
                access_key_id.expose(),
                secret_access_key.expose(),
                None,
                None,
                "trailhound-config",
            );
            loader = loader.credentials_provider(credentials);
        }
        CredentialSource::Profile(profile) => loader = loader.profile_name(profile),
        CredentialSource::DefaultChain => {}
    }
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let base = loader.load().await;
    let Some(role_arn) = &settings.role_arn else { return Ok(base) };
    let mut role = aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
        .session_name(settings.session_name.clone().unwrap_or_else(|| "trailhound".to_string()))
        .configure(&base);
    if let Some(external_id) = &settings.external_id {
        role = role.external_id(external_id.clone());
    }
    let provider = role.build().await;
    Ok(base
        .into_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(provider))
        .build())
}

/// How long a request may wait. The SDK's defaults bound only the connection: a server (or a
/// proxy) that takes a request and never answers held a poll forever (found with the test
/// suite's fault proxy). A response must now begin within `READ_TIMEOUT`; the attempt is then
/// retried like any other transient failure. A body that stops flowing is caught by the SDK's
/// stalled-stream protection, which is on by default.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(READ_TIMEOUT)
        .build()
}

/// How long the head of a response may take (see [`timeouts`]).
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The configured proxy (basic authentication, `Domain` sent as `DOMAIN\\user`), else the
/// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment variables.
///
/// The SDK puts the user name and password into the proxy URL as they are given, and its proxy
/// matcher silently ignores a URL that does not parse: a password holding `@`, `/` or `#` would
/// make every request bypass the proxy. So both are percent-encoded here (the matcher decodes
/// them before it builds the `Proxy-Authorization` header), and the URL is checked to parse.
fn proxy_config(proxy: Option<&Proxy>) -> Result<ProxyConfig, AwsSetupError> {
    let Some(proxy) = proxy else { return Ok(ProxyConfig::from_env()) };
    let refuse =
        |reason: String| AwsSetupError::Proxy { server: proxy.server.clone(), port: proxy.port, reason };
    let url = format!("http://{}:{}", proxy.server, proxy.port);
    let config = ProxyConfig::all(&url).map_err(|error| refuse(error.to_string()))?;
    let Some((user, password)) = proxy_login(proxy) else { return Ok(config) };
    let (user, password) = (encode_userinfo(&user), encode_userinfo(&password));
    let with_login = format!("http://{user}:{password}@{}:{}", proxy.server, proxy.port);
    with_login
        .parse::<http::Uri>()
        .map_err(|error| refuse(format!("the proxy URL with its credentials does not parse: {error}")))?;
    Ok(config.with_basic_auth(user, password))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_userinfo(text: &str) -> String {
    const USERINFO: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, USERINFO).to_string()
}

/// The basic-authentication user and password: `DOMAIN\\user` when a domain is set.
fn proxy_login(proxy: &Proxy) -> Option<(String, String)> {
    let user = proxy.user_name.as_ref()?;
    let user = match &proxy.domain {
        Some(domain) => format!("{domain}\\{user}"),
        None => user.clone(),
    };
    let password = proxy.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
    Some((user, password))
}

/// The SDK's own HTTPS client (rustls with aws-lc), with a proxy configuration. The SDK's
/// default client never uses a proxy, so the connector is built here.
fn http_client(proxy: ProxyConfig) -> SharedHttpClient {
    // `build_with_connector_fn` is the SDK's way to choose the connector per client; it is how
    // a proxy reaches the connector while keeping the SDK's timeouts and sleep implementation.
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder = Connector::builder().proxy_config(proxy.clone());
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc)).build()
    })
}

/// A short, credential-free description of an SDK error (the error code when there is one).
pub fn describe_error<E>(error: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::SdkError;
    // Every SDK crate re-exports the same smithy SdkError and ProvideErrorMetadata.
    match error {
        // AWS answers authentication failures with 403; 401 and 407 come from a proxy.
        SdkError::ServiceError(service) if matches!(service.raw().status().as_u16(), 401 | 407) => {
            let status = service.raw().status().as_u16();
            format!("the proxy refused the credentials (HTTP {status}): check UserName, Password and Domain")
        }
        SdkError::ServiceError(service) => {
            let inner = service.err();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => inner.to_string(),
            }
        }
        SdkError::DispatchFailure(failure) => format!("cannot reach the endpoint: {failure:?}"),
        SdkError::TimeoutError(_) => "the request timed out".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn the_domain_goes_before_the_user_name() {
        let proxy = Proxy {
            server: "proxy.corp".into(),
            port: 3128,
            user_name: Some("trail".into()),
            password: Some(Secret::new("pass")),
            domain: Some("CORP".into()),
        };
        assert_eq!(proxy_login(&proxy), Some(("CORP\\trail".to_string(), "pass".to_string())));
        let no_domain = Proxy { domain: None, ..proxy.clone() };
        assert_eq!(proxy_login(&no_domain), Some(("trail".to_string(), "pass".to_string())));
        assert_eq!(proxy_login(&Proxy { user_name: None, ..proxy }), None);
    }

    #[test]
    fn credentials_are_encoded_so_the_proxy_url_parses() {
        assert_eq!(encode_userinfo("CORP\\tr@il"), "CORP%5Ctr%40il");
        assert_eq!(encode_userinfo("p@ss:w/rd?#% wörd~"), "p%40ss%3Aw%2Frd%3F%23%25%20w%C3%B6rd~");
        let proxy = Proxy {
            server: "[::1]".into(),
            port: 3128,
            user_name: Some("ü ser".into()),
            password: Some(Secret::new("a/b@c#d")),
            domain: Some("CORP".into()),
        };
        assert!(proxy_config(Some(&proxy)).is_ok());
    }
}
