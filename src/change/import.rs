//! Where `add --from-dir` and `add --from-env` find a context's files and settings.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

use crate::change::inputs::Settings;
use crate::secret::{Secret, parse_token};

/// Fills the CA, certificate and key from a directory laid out by the guide's cfssl
/// commands or by `nomad tls`. Agent certificates and CA keys never match these names.
pub fn from_dir(settings: &mut Settings, dir: &Path) -> Result<()> {
    let shown = dir.display();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("could not read directory {shown}"))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let seen = if names.is_empty() {
        "it is empty".to_owned()
    } else {
        format!("it holds {}", names.join(", "))
    };
    let pick = |what: &str, candidates: Vec<&String>| -> Result<PathBuf> {
        match candidates.as_slice() {
            [one] => Ok(dir.join(one)),
            [] => bail!(
                "found no {what} in {shown} ({seen}); give it with the matching option instead of --from-dir"
            ),
            many => {
                let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                bail!(
                    "found more than one {what} in {shown}: {}; choose with --ca, --cert and --key",
                    many.join(", ")
                )
            }
        }
    };
    let ca = pick(
        "CA certificate (nomad-ca.pem or nomad-agent-ca.pem)",
        names
            .iter()
            .filter(|n| *n == "nomad-ca.pem" || *n == "nomad-agent-ca.pem")
            .collect(),
    )?;
    let cert = pick(
        "CLI certificate (cli.pem or REGION-cli-nomad.pem)",
        names
            .iter()
            .filter(|n| *n == "cli.pem" || is_nomad_tls_cli_cert(n))
            .collect(),
    )?;
    let key_name = format!(
        "{}-key.pem",
        cert.file_stem().unwrap_or_default().to_string_lossy()
    );
    if !names.contains(&key_name) {
        bail!(
            "found {} but not its key {key_name} in {shown} ({seen})",
            cert.display()
        );
    }
    settings.ca = Some(ca);
    settings.key = Some(dir.join(key_name));
    settings.cert = Some(cert);
    Ok(())
}

fn is_nomad_tls_cli_cert(name: &str) -> bool {
    name.strip_suffix("-cli-nomad.pem")
        .is_some_and(|region| !region.is_empty())
}

/// Fills what the command line left open from the NOMAD_* variables, the migration path
/// from the guide's `~/.bash_profile`. Returns NOMAD_TOKEN when set.
pub fn from_env(settings: &mut Settings) -> Result<Option<Secret>> {
    // A value that is not UTF-8 is an error to report, not a variable to skip.
    let var = |name: &str| -> Result<Option<String>> {
        match std::env::var(name) {
            Ok(v) => Ok(Some(v).filter(|v| !v.is_empty())),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("{name} is not UTF-8 text; fix the variable, or give the value as an option")
            }
        }
    };
    let path_var = |name: &str| -> Option<PathBuf> {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let fill = |field: &mut Option<String>, name: &str| -> Result<()> {
        if field.is_none() {
            *field = var(name)?;
        }
        Ok(())
    };
    fill(&mut settings.address, "NOMAD_ADDR")?;
    if settings.address.is_none() {
        bail!("--from-env needs NOMAD_ADDR, which is not set; set it or give --address");
    }
    fill(&mut settings.region, "NOMAD_REGION")?;
    fill(&mut settings.namespace, "NOMAD_NAMESPACE")?;
    fill(&mut settings.tls_server_name, "NOMAD_TLS_SERVER_NAME")?;
    if settings.ca.is_none() {
        settings.ca = path_var("NOMAD_CACERT").or_else(|| path_var("NOMAD_CAPATH"));
    }
    if settings.cert.is_none() && settings.key.is_none() {
        settings.cert = path_var("NOMAD_CLIENT_CERT");
        settings.key = path_var("NOMAD_CLIENT_KEY");
    }
    if settings.skip_verify.is_none() {
        settings.skip_verify = var("NOMAD_SKIP_VERIFY")?
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    }
    // As bytes: a token that is not UTF-8 is an error to report, not a variable to skip.
    let token = std::env::var_os("NOMAD_TOKEN")
        .filter(|t| !t.is_empty() && !settings.token_stdin)
        .map(|t| Zeroizing::new(t.into_encoded_bytes()));
    token
        .map(|t| parse_token(&t))
        .transpose()
        .map_err(|problem| anyhow!("the ACL token in NOMAD_TOKEN {problem}; fix the variable, or leave it out and give the token with --token-stdin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_tls_cli_names() {
        assert!(is_nomad_tls_cli_cert("global-cli-nomad.pem"));
        assert!(is_nomad_tls_cli_cert("eu-west-cli-nomad.pem"));
        assert!(!is_nomad_tls_cli_cert("-cli-nomad.pem"));
        assert!(!is_nomad_tls_cli_cert("global-client-nomad.pem"));
        assert!(!is_nomad_tls_cli_cert("global-cli-nomad-key.pem"));
    }
}
