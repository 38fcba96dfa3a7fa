//! argh arguments of the backup commands (`system backup …`, `system backup-list`,
//! `system restore`): argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// Back up the appliance's configuration, keys, baselines and logs now.
#[derive(FromArgs, Debug)]
pub struct CreateArgs {}

/// Parses `system backup`, `system backup create` / `cyberx-xsense-system-backup`.
pub fn parse_create(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    CreateArgs::from_args(name, args)?;
    Ok(Action::BackupCreate {})
}

/// List the backup files, newest first.
#[derive(FromArgs, Debug)]
pub struct ListArgs {
    /// print JSON with each backup's size, time, version, board and HMAC verification
    #[argh(switch)]
    pub json: bool,
}

/// Parses `system backup-list`, `system backup list` / `cyberx-xsense-system-backup-list`.
pub fn parse_list(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ListArgs::from_args(name, args)?;
    Ok(Action::BackupList { json: parsed.json })
}

/// Show the backup directory's size and limit, the last backup and the free space.
#[derive(FromArgs, Debug)]
pub struct SpaceArgs {
    /// print JSON with the sizes in bytes, the last backup's time and status
    #[argh(switch)]
    pub json: bool,
}

/// Parses `system backup space` / `cyberx-backup-memory-check`.
pub fn parse_space(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = SpaceArgs::from_args(name, args)?;
    Ok(Action::BackupSpace { json: parsed.json })
}

/// Write a backup file to standard output in base64 (RFC 4648, lines of 4096 characters), for
/// fleet tools: `base64 -d` gives the file back.
#[derive(FromArgs, Debug)]
pub struct ExportArgs {
    /// the backup's file name, as system backup-list names it
    #[argh(positional)]
    pub name: String,
}

/// Parses `system backup export NAME`.
pub fn parse_export(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ExportArgs::from_args(name, args)?;
    let backup = crate::validate::BackupName::parse(&parsed.name)
        .map_err(|e| argh::EarlyExit { output: e.to_string(), status: Err(()) })?;
    Ok(Action::BackupExport { name: backup })
}

/// Restore the appliance's data from a backup (the newest unless one is named).
#[derive(FromArgs, Debug)]
pub struct RestoreArgs {
    /// the backup file to restore, as system backup-list names it
    #[argh(option, short = 'f')]
    pub file: Option<String>,
    /// answer yes to both confirmation questions
    #[argh(switch, short = 'y')]
    pub yes: bool,
    /// restore a backup made on another board or by a newer major version
    #[argh(switch)]
    pub force: bool,
}

/// Parses `system restore` / `cyberx-xsense-system-restore`. The name is checked here, so bad
/// input changes nothing.
pub fn parse_restore(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = RestoreArgs::from_args(name, args)?;
    let file = parsed
        .file
        .as_deref()
        .map(crate::validate::BackupRef::parse)
        .transpose()
        .map_err(|err| argh::EarlyExit { output: err.to_string(), status: Err(()) })?;
    Ok(Action::BackupRestore { file, yes: parsed.yes, force: parsed.force })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_arguments() {
        let name = ["sensorctl", "system", "restore"];
        assert_eq!(
            parse_restore(&name, &["-f", "h-1-backup-version-0.1.0-x-1970-01-01_00:00:00.tar", "--yes"]).unwrap(),
            Action::BackupRestore {
                file: Some("h-1-backup-version-0.1.0-x-1970-01-01_00:00:00.tar".into()),
                yes: true,
                force: false
            }
        );
        assert_eq!(
            parse_restore(&name, &["--force"]).unwrap(),
            Action::BackupRestore { file: None, yes: false, force: true }
        );
        let bad = parse_restore(&name, &["-f", "../../etc/shadow"]).unwrap_err();
        assert!(bad.status.is_err());
        assert!(bad.output.contains("invalid backup name 'shadow'"), "{}", bad.output);
        assert!(parse_restore(&name, &["extra"]).is_err());
        assert_eq!(parse_list(&name, &["--json"]).unwrap(), Action::BackupList { json: true });
        assert_eq!(parse_space(&name, &[]).unwrap(), Action::BackupSpace { json: false });
        let export = ["sensorctl", "system", "backup", "export"];
        let backup = "h-1-backup-version-0.1.0-x-1970-01-01_00:00:00.tar";
        assert!(matches!(parse_export(&export, &[backup]).unwrap(), Action::BackupExport { name } if name.as_str() == backup));
        for bad in [&[][..], &["../etc/shadow"], &["/var/cyberx/backups/x.tar"], &[backup, backup]] {
            assert!(parse_export(&export, bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_create(&name, &[]).unwrap(), Action::BackupCreate {});
        assert!(parse_create(&name, &["now"]).is_err());
    }
}
