//! AWS SDK configuration from a source's validated settings.
//!
//! Credentials: static keys when configured, else a named profile, else the SDK's default chain
//! (environment, shared config and SSO, web identity, ECS, IMDSv2); then, when `role_arn` is set,
//! a role assumed through STS on top of them. `endpoint` points clients at S3-compatible stores.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use crate::config::{AwsSettings, Credentials as CredentialSource};

/// A setting this build cannot honour yet.
#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    /// Proxies are not wired into the HTTP client yet.
    #[error(
        "a proxy is configured ({server}:{port}), but this build cannot send AWS requests through a proxy yet"
    )]
    ProxyUnsupported {
        /// `ProxyServer`.
        server: String,
        /// `ProxyPort`.
        port: u16,
    },
}

/// The SDK configuration for one source.
pub async fn sdk_config(settings: &AwsSettings) -> Result<SdkConfig, AwsSetupError> {
    if let Some(proxy) = &settings.proxy {
        return Err(AwsSetupError::ProxyUnsupported { server: proxy.server.clone(), port: proxy.port });
    }
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(settings.region.clone()));
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

/// A short, credential-free description of an SDK error (the error code when there is one).
pub fn describe_error<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::SdkError;
    // Every SDK crate re-exports the same smithy SdkError and ProvideErrorMetadata.
    match error {
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
