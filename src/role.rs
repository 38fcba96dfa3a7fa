//! Who the caller is: real uid → user name (from `<root>/etc/passwd`) → role (from the board's
//! role map). The role never comes from an argument; root alone may *lower* it with `--role`.
//!
//! Reads `<root>/etc/passwd`; needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::validate::UserName;
use std::fmt;
use std::str::FromStr;

/// The appliance roles of DESIGN.md, plus `None` for users the role map does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// `support` (or `admin` on newer appliances): the restricted-shell operator.
    Support,
    /// `cyberx`: root-like maintenance user.
    Cyberx,
    /// `cyberx_host`: host OS maintenance user.
    CyberxHost,
    /// Recovery mode and firmware build scripts.
    Root,
    /// A user with no entry in the role map: may run nothing.
    None,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 5] = [Role::Support, Role::Cyberx, Role::CyberxHost, Role::Root, Role::None];

    /// The role's name as written in board files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::Cyberx => "cyberx",
            Role::CyberxHost => "cyberx_host",
            Role::Root => "root",
            Role::None => "none",
        }
    }

    /// Whether a caller whose real role is `self` may act as `wanted`.
    ///
    /// Only root may change its role, and only downwards (every role is below root). The other
    /// roles are not ordered: cyberx lacks `network blink`, which support has, so letting cyberx
    /// "lower" itself to support would raise it.
    pub fn may_act_as(self, wanted: Role) -> bool {
        self == wanted || self == Role::Root
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(text: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown role '{text}' (expected support, cyberx, cyberx_host, root or none)"
                ))
            })
    }
}

/// The user name for `uid` in the text of a passwd(5) file, if it has one.
///
/// Malformed lines are skipped rather than trusted: a line that does not have seven fields or
/// whose uid is not a number names nobody.
pub fn user_for_uid(passwd: &str, uid: u32) -> Option<UserName> {
    UserName::parse(entry_for_uid(passwd, uid)?[0]).ok()
}

/// The seven fields of the first well-formed passwd(5) line for `uid`.
fn entry_for_uid(passwd: &str, uid: u32) -> Option<Vec<&str>> {
    passwd.lines().map(|line| line.split(':').collect::<Vec<&str>>()).find(|fields| {
        fields.len() == 7 && fields[2].parse::<u32>().is_ok_and(|found| found == uid)
    })
}

/// The primary gid of the passwd(5) entry for `uid` in `passwd`.
pub fn primary_gid_for_uid(passwd: &str, uid: u32) -> Option<u32> {
    entry_for_uid(passwd, uid)?[3].parse().ok()
}

/// One entry of a role map: a user name and the role it gets.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleMapping {
    /// The login name.
    pub user: UserName,
    /// Its role.
    pub role: Role,
}

/// The role of `user` under `map`; users the map does not name get [`Role::None`].
pub fn role_of(map: &[RoleMapping], user: &UserName) -> Role {
    map.iter()
        .find(|entry| entry.user == *user)
        .map(|entry| entry.role)
        .unwrap_or(Role::None)
}

/// The caller, as established from the kernel and the passwd file.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    /// Real uid, from getuid(2).
    pub uid: u32,
    /// The primary gid passwd gives that uid (`None` when it has no entry).
    pub gid: Option<u32>,
    /// The name passwd gives that uid (`None` when it has no entry).
    pub user: Option<UserName>,
    /// The role the caller really has.
    pub real_role: Role,
    /// The role the caller acts as (lower than `real_role` only when root asked for it).
    pub role: Role,
}

impl Caller {
    /// Establishes the caller's role. uid 0 is root even without a passwd entry, so that a
    /// recovery shell on a damaged image still works.
    pub fn identify(uid: u32, passwd: Option<&str>, map: &[RoleMapping]) -> Caller {
        let user = passwd.and_then(|text| user_for_uid(text, uid));
        let real_role = if uid == 0 {
            Role::Root
        } else {
            user.as_ref().map_or(Role::None, |name| role_of(map, name))
        };
        let gid = passwd.and_then(|text| primary_gid_for_uid(text, uid));
        Caller { uid, gid, user, real_role, role: real_role }
    }

    /// Applies `--role`: allowed only to lower privilege.
    pub fn act_as(mut self, wanted: Role) -> Result<Caller> {
        if !self.real_role.may_act_as(wanted) {
            return Err(Error::Usage(format!(
                "--role {wanted}: a {} caller may not change its role",
                self.real_role
            )));
        }
        self.role = wanted;
        Ok(self)
    }

    /// The user name for messages and the shell prompt.
    pub fn user_name(&self) -> String {
        match &self.user {
            Some(name) => name.as_str().to_string(),
            None if self.uid == 0 => "root".to_string(),
            None => format!("uid{}", self.uid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Vec<RoleMapping> {
        [("support", Role::Support), ("admin", Role::Support), ("cyberx", Role::Cyberx)]
            .into_iter()
            .map(|(user, role)| RoleMapping { user: UserName::parse(user).unwrap(), role })
            .collect()
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        broken line\n\
        support:x:1000:1000::/home/support:/usr/bin/sensorctl\n\
        cyberx:x:1001:1001::/home/cyberx:/bin/bash\n\
        guest:x:1002:1002::/home/guest:/bin/sh\n\
        evil:x:notanumber:0::/:/bin/sh\n";

    #[test]
    fn uid_maps_through_passwd_and_role_map() {
        let support = Caller::identify(1000, Some(PASSWD), &map());
        assert_eq!(support.role, Role::Support);
        assert_eq!(support.user_name(), "support");
        assert_eq!(Caller::identify(1001, Some(PASSWD), &map()).role, Role::Cyberx);
        assert_eq!(Caller::identify(1002, Some(PASSWD), &map()).role, Role::None);
        assert_eq!(support.gid, Some(1000));
        assert_eq!(Caller::identify(4242, Some(PASSWD), &map()).gid, None);
        assert_eq!(Caller::identify(4242, Some(PASSWD), &map()).role, Role::None);
        assert_eq!(Caller::identify(0, None, &map()).role, Role::Root);
    }

    #[test]
    fn only_root_may_change_role_and_nobody_may_raise() {
        let root = Caller::identify(0, Some(PASSWD), &map());
        for role in Role::ALL {
            assert_eq!(root.clone().act_as(role).unwrap().role, role);
        }
        let support = Caller::identify(1000, Some(PASSWD), &map());
        assert!(support.clone().act_as(Role::Cyberx).is_err());
        assert!(support.clone().act_as(Role::Root).is_err());
        assert_eq!(support.act_as(Role::Support).unwrap().role, Role::Support);
        let cyberx = Caller::identify(1001, Some(PASSWD), &map());
        assert!(cyberx.act_as(Role::Support).is_err(), "cyberx lowering to support would gain blink");
    }

    #[test]
    fn role_names_round_trip_and_unknown_is_usage_error() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>().unwrap(), role);
        }
        assert_eq!("admin".parse::<Role>().unwrap_err().exit_code(), 2);
    }
}
