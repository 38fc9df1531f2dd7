use serde_json::json;

use super::*;

fn field_of(config: serde_json::Value) -> String {
    match Settings::from_json(&config.to_string()) {
        Err(ConfigError::Invalid { field, .. }) => field,
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("accepted {config}"),
    }
}

fn remote() -> serde_json::Value {
    json!({ "remote": { "cluster": "idp", "url": "http://idp.test/jwks" } })
}

#[test]
fn minimal_remote_config_gets_the_defaults() {
    let settings = Settings::from_json(&json!({ "jwks": remote() }).to_string()).unwrap();
    assert_eq!(settings.refresh.interval, 600);
    assert_eq!(settings.validator.skew_seconds, 60);
    assert_eq!(settings.validator.algorithms, ASYMMETRIC.to_vec());
    assert_eq!(settings.token_source, TokenSource::Authorization);
    assert!(!settings.forward_token);
    assert!(matches!(
        &settings.jwks_source,
        JwksSource::Remote { cluster, url, .. } if cluster == "idp" && url.path == "/jwks" && url.authority == "idp.test"
    ));
}

#[test]
fn oidc_issuer_points_at_its_discovery_document() {
    let config =
        json!({ "jwks": { "oidc": { "cluster": "idp", "issuer": "https://idp.test/realms/a" } } });
    let settings = Settings::from_json(&config.to_string()).unwrap();
    assert!(matches!(
        &settings.jwks_source,
        JwksSource::Oidc { configuration, .. } if configuration.path == "/realms/a/.well-known/openid-configuration"
    ));
}

#[test]
fn invalid_configs_name_the_field() {
    let cases = [
        (json!({}), "jwks"),
        (json!({ "jwks": {} }), "jwks"),
        (
            json!({ "jwks": { "remote": { "cluster": "idp" } } }),
            "jwks.remote.url",
        ),
        (
            json!({ "jwks": { "remote": { "cluster": "idp", "url": "idp/jwks" } } }),
            "jwks.remote.url",
        ),
        (
            json!({ "jwks": { "inline": { "keys": [] } } }),
            "jwks.inline",
        ),
        (
            json!({ "jwks": remote(), "algorithms": ["none"] }),
            "algorithms[0]",
        ),
        (
            json!({ "jwks": remote(), "algorithms": ["RS256", "HS256"] }),
            "algorithms[1]",
        ),
        (
            json!({ "jwks": remote(), "sharedSecret": "short" }),
            "sharedSecret",
        ),
        (
            json!({ "jwks": remote(), "refresh": { "intervalSeconds": 5 } }),
            "refresh",
        ),
        (
            json!({ "jwks": remote(), "tokenSource": { "header": "x", "cookie": "y" } }),
            "tokenSource",
        ),
        (
            json!({ "jwks": remote(), "claimHeaders": [{ "claim": "sub", "header": "Authorization" }] }),
            "claimHeaders[0].header",
        ),
        (
            json!({ "jwks": remote(), "resourceMetadata": { "resource": "not a url" } }),
            "resourceMetadata.resource",
        ),
        (
            json!({ "jwks": remote(), "policies": [{ "name": "p", "allow": "((" }] }),
            "policies[0].allow",
        ),
        (
            json!({ "jwks": remote(), "policies": [{ "name": "p" }] }),
            "policies[0].allow",
        ),
        (json!({ "jwks": remote(), "bogus": 1 }), "bogus"),
    ];
    for (config, field) in cases {
        assert_eq!(field_of(config.clone()), field, "{config}");
    }
}

#[test]
fn hmac_only_config_needs_no_jwks() {
    let config =
        json!({ "sharedSecret": "0123456789abcdef0123456789abcdef", "algorithms": ["HS256"] });
    let settings = Settings::from_json(&config.to_string()).unwrap();
    assert_eq!(settings.jwks_source, JwksSource::Inline);
    assert!(settings.validator.shared_secret.is_some());
}
