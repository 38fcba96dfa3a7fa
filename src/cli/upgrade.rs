//! argh arguments of `system upgrade` and of the firmware builders' `package keygen` and
//! `package build`: argv → [`Action`].
//!
//! Pure apart from making a relative package path absolute (the daemon that runs the action
//! has another working directory); needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// Install a signed software package into the inactive slot and switch to it; or commit,
/// roll back, or show the slots.
#[derive(FromArgs, Debug)]
pub struct UpgradeArgs {
    /// the package file (a signed sensorctl package)
    #[argh(positional)]
    pub package: Option<String>,
    /// install even if the package's version is not newer than the running one
    #[argh(switch)]
    pub allow_downgrade: bool,
    /// reboot as soon as the new slot is active
    #[argh(switch)]
    pub reboot: bool,
    /// commit a pending upgrade if system sanity passes (roll it back otherwise)
    #[argh(switch)]
    pub commit: bool,
    /// make the previous slot active again
    #[argh(switch)]
    pub rollback: bool,
    /// show both slots' versions and the upgrade state
    #[argh(switch)]
    pub status: bool,
    /// with --status: print JSON
    #[argh(switch)]
    pub json: bool,
}

fn local_path(option: &str, text: &str) -> Result<crate::validate::LocalPath, argh::EarlyExit> {
    crate::validate::LocalPath::parse(text).map_err(|e| usage(&format!("{option}: {e}")))
}

fn usage(text: &str) -> argh::EarlyExit {
    argh::EarlyExit { output: text.to_string(), status: Err(()) }
}

fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(path).display().to_string(),
        Err(_) => path.to_string(),
    }
}

/// Parses `system upgrade`.
pub fn parse_upgrade(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let p = UpgradeArgs::from_args(name, args)?;
    let modes = usize::from(p.package.is_some()) + usize::from(p.commit) + usize::from(p.rollback) + usize::from(p.status);
    if modes != 1 {
        return Err(usage("give exactly one of: a package, --commit, --rollback, --status"));
    }
    if p.package.is_none() && (p.allow_downgrade || p.reboot) {
        return Err(usage("--allow-downgrade and --reboot go with a package"));
    }
    if p.json && !p.status {
        return Err(usage("--json goes with --status"));
    }
    if p.package.as_deref().is_some_and(str::is_empty) {
        return Err(usage("the package path is empty"));
    }
    let package = match p.package.as_deref().map(absolute) {
        Some(path) => Some(crate::validate::AbsPath::parse(&path).map_err(|e| usage(&e.to_string()))?),
        None => None,
    };
    Ok(Action::Upgrade {
        package,
        allow_downgrade: p.allow_downgrade,
        reboot: p.reboot,
        commit: p.commit,
        rollback: p.rollback,
        status: p.status,
        json: p.json,
    })
}

/// Create an Ed25519 key pair for signing packages: PREFIX.key (0600) and PREFIX.pub.
#[derive(FromArgs, Debug)]
pub struct KeygenArgs {
    /// the prefix of the two files written
    #[argh(option, short = 'o')]
    pub output: String,
}

/// Parses `package keygen`.
pub fn parse_keygen(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let p = KeygenArgs::from_args(name, args)?;
    Ok(Action::PackageKeygen { prefix: local_path("-o", &p.output)? })
}

/// Build and sign an upgrade package from the files under DIR.
#[derive(FromArgs, Debug)]
pub struct BuildArgs {
    /// the private key (PREFIX.key of package keygen)
    #[argh(option)]
    pub key: String,
    /// the version the package installs (dotted numbers, e.g. 1.4.0)
    #[argh(option)]
    pub version: String,
    /// a board the package is for (repeat for more)
    #[argh(option)]
    pub board: Vec<String>,
    /// the oldest version it may upgrade from (default 0)
    #[argh(option)]
    pub min_version: Option<String>,
    /// the package file to write
    #[argh(option, short = 'o')]
    pub output: String,
    /// the directory whose files make the payload
    #[argh(positional)]
    pub dir: String,
}

/// Parses `package build`.
pub fn parse_build(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let p = BuildArgs::from_args(name, args)?;
    if p.board.is_empty() {
        return Err(usage("name at least one --board"));
    }
    Ok(Action::PackageBuild {
        key: local_path("--key", &p.key)?,
        version: p.version,
        boards: p.board,
        min_version: p.min_version.unwrap_or_else(|| "0".to_string()),
        dir: local_path("DIR", &p.dir)?,
        output: local_path("-o", &p.output)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_arguments() {
        let name = ["sensorctl", "system", "upgrade"];
        let Action::Upgrade { package, .. } = parse_upgrade(&name, &["/tmp/p.pkg", "--reboot"]).unwrap() else {
            panic!()
        };
        assert_eq!(package.map(|p| p.to_string()).as_deref(), Some("/tmp/p.pkg"));
        let Action::Upgrade { package, .. } = parse_upgrade(&name, &["p.pkg"]).unwrap() else { panic!() };
        assert!(package.unwrap().to_string().starts_with('/'));
        assert!(matches!(parse_upgrade(&name, &["--status", "--json"]).unwrap(), Action::Upgrade { status: true, json: true, .. }));
        for bad in [&[][..], &["p", "--commit"], &["--commit", "--rollback"], &["--json", "--commit"], &["--reboot", "--commit"]] {
            assert!(parse_upgrade(&name, bad).is_err(), "{bad:?}");
        }
        let build = ["sensorctl", "package", "build"];
        assert!(parse_build(&build, &["--key", "k", "--version", "1", "-o", "x", "d"]).is_err());
        assert_eq!(
            parse_build(&build, &["--key", "k", "--version", "1.0", "--board", "b", "-o", "x", "d"]).unwrap(),
            Action::PackageBuild {
                key: "k".into(),
                version: "1.0".into(),
                boards: vec!["b".into()],
                min_version: "0".into(),
                dir: "d".into(),
                output: "x".into()
            }
        );
        assert_eq!(parse_keygen(&["package", "keygen"], &["-o", "p"]).unwrap(), Action::PackageKeygen { prefix: "p".into() });
    }
}
