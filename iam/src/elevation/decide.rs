//! The decision of an assume-role, and its second factor.

use crate::directory::Directory;
use crate::factors::{self, CodeCheck, SecondFactors};
use crate::ledger::Ledger;
use crate::names::UserName;
use crate::policy::{
    Context, Decision, Explanation, NotAuthorized, Policy, PolicySet, Request, Response, authorize,
    explain,
};
use crate::request::with_fresh_mfa;
use crate::secret::SecretString;
use crate::store::{AttemptResult, LockoutRule, MfaDevice, Settled, StoreError};
use chrono::{DateTime, Utc};

/// The two questions an assume-role asks of the policy engine.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleQuestion<'a> {
    pub caller_arn: &'a str,
    /// The caller's identity policies and boundary (its `resource` is
    /// ignored: the trust policy is the resource policy here).
    pub caller: &'a PolicySet,
    pub role_arn: &'a str,
    pub trust: &'a Policy,
    pub assume_context: &'a Context,
    pub session_arn: &'a str,
    /// The role's permission policies and boundary.
    pub role: &'a PolicySet,
    pub host_arn: &'a str,
    pub run_as_context: &'a Context,
}

/// What the engine said, and which question failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        assume: Response,
        run_as: Response,
    },
    /// `sts:AssumeRole` refused; `why` says which side (the caller's
    /// policies, its boundary, the trust policy) decided.
    AssumeDenied {
        response: Response,
        why: Explanation,
    },
    /// `host:RunAs` refused by the role's policies.
    RunAsDenied {
        response: Response,
        why: Explanation,
    },
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// The response that decided (the failing one on denial).
    pub fn deciding(&self) -> &Response {
        match self {
            Self::Allowed { assume, .. } => assume,
            Self::AssumeDenied { response, .. } | Self::RunAsDenied { response, .. } => response,
        }
    }
}

impl AssumeRoleQuestion<'_> {
    /// Decides as AWS does in one account: `sts:AssumeRole` with the trust policy
    /// as the resource policy (naming the caller's ARN suffices; naming only
    /// the account needs an identity Allow too; any Deny wins), then
    /// `host:RunAs` on this host with the role's own policies.
    pub fn decide(&self) -> Verdict {
        let assume = match decide_assume_role(
            self.caller_arn,
            self.caller,
            self.role_arn,
            self.trust,
            self.assume_context,
        ) {
            Ok(assume) => assume,
            Err((response, why)) => return Verdict::AssumeDenied { response, why },
        };
        let request = Request {
            principal: self.session_arn,
            action: "host:RunAs",
            resource: self.host_arn,
            context: self.run_as_context,
        };
        let run_as = authorize(&request, self.role);
        if run_as.decision != Decision::Allowed {
            return Verdict::RunAsDenied {
                why: explained(&request, self.role, &run_as),
                response: run_as,
            };
        }
        Verdict::Allowed { assume, run_as }
    }

    /// Whether a second factor proved now would turn a denial into an allow:
    /// then (and only then) iamctl asks for a code.
    pub fn mfa_would_allow(&self) -> bool {
        let assume_context = with_fresh_mfa(self.assume_context);
        let run_as_context = with_fresh_mfa(self.run_as_context);
        AssumeRoleQuestion {
            assume_context: &assume_context,
            run_as_context: &run_as_context,
            ..*self
        }
        .decide()
        .is_allowed()
    }

    /// The one-line reason for a denial, AWS-worded (the engine's
    /// explanation), naming the deciding statement on an explicit deny.
    pub fn denial_message(&self, verdict: &Verdict) -> Option<String> {
        match verdict {
            Verdict::Allowed { .. } => None,
            Verdict::AssumeDenied { why, .. } => Some(
                NotAuthorized {
                    who: "User",
                    principal: self.caller_arn,
                    action: "sts:AssumeRole",
                    resource: self.role_arn,
                    why: Some(why),
                }
                .to_string(),
            ),
            Verdict::RunAsDenied { why, .. } => {
                // Named by the role (not the session), and said in terms of
                // this host when the role grants nothing here.
                let sentence = NotAuthorized {
                    who: "Role",
                    principal: self.role_arn,
                    action: "host:RunAs",
                    resource: self.host_arn,
                    why: Some(why),
                };
                Some(match why {
                    Explanation::NoIdentityAllow => format!(
                        "{} because no permissions policy of the role allows host:RunAs on this host",
                        NotAuthorized {
                            why: None,
                            ..sentence
                        }
                    ),
                    _ => sentence.to_string(),
                })
            }
        }
    }
}

/// `sts:AssumeRole` of `role_arn` by `caller_arn`, the trust policy as the
/// resource policy: the first question of an assume-role on a host, and the
/// only one at iam-server's STS (no host to run on). A denial comes with
/// its explanation.
pub fn decide_assume_role(
    caller_arn: &str,
    caller: &PolicySet,
    role_arn: &str,
    trust: &Policy,
    context: &Context,
) -> Result<Response, (Response, Explanation)> {
    let mut policies = AssumeRolePolicies::new(caller);
    let assume = policies.response(caller_arn, role_arn, trust, context);
    if assume.decision != Decision::Allowed {
        let why = explained(
            &assume_role_request(caller_arn, role_arn, context),
            &policies.set,
            &assume,
        );
        return Err((assume, why));
    }
    Ok(assume)
}

/// The policies that decide one caller's `sts:AssumeRole`: its identity
/// policies and boundary, and the role's trust policy as the resource
/// policy. Kept across roles by a caller that asks of many (the access
/// report), which takes [`AssumeRolePolicies::response`]: the decision of
/// [`decide_assume_role`] without explaining a denial.
#[derive(Debug, Clone)]
pub struct AssumeRolePolicies {
    set: PolicySet,
}

impl AssumeRolePolicies {
    pub fn new(caller: &PolicySet) -> Self {
        Self {
            set: PolicySet {
                identity: caller.identity.clone(),
                boundary: caller.boundary.clone(),
                resource: Vec::with_capacity(1),
            },
        }
    }

    /// `sts:AssumeRole` of `role_arn` (trusting as `trust` says) by `caller_arn`.
    pub fn response(
        &mut self,
        caller_arn: &str,
        role_arn: &str,
        trust: &Policy,
        context: &Context,
    ) -> Response {
        self.set.resource.clear();
        self.set.resource.push(trust.clone());
        authorize(
            &assume_role_request(caller_arn, role_arn, context),
            &self.set,
        )
    }
}

fn assume_role_request<'a>(
    caller_arn: &'a str,
    role_arn: &'a str,
    context: &'a Context,
) -> Request<'a> {
    Request {
        principal: caller_arn,
        action: "sts:AssumeRole",
        resource: role_arn,
        context,
    }
}

/// Why `policies` denied `request` (`response`, a denial).
fn explained(request: &Request<'_>, policies: &PolicySet, response: &Response) -> Explanation {
    // A denial always has an explanation; the fallback keeps it a denial.
    explain(request, policies, response).unwrap_or(Explanation::NoIdentityAllow)
}

/// Why a one-time code did not count as a second factor.
#[derive(Debug, thiserror::Error)]
pub enum MfaFailure {
    #[error(
        "MultiFactorAuthentication failed: user {0} is locked out after too many failed attempts."
    )]
    LockedOut(String),
    #[error("MultiFactorAuthentication failed: {serial} is not an MFA device of user {user}.")]
    NotYourDevice { serial: String, user: String },
    #[error("MultiFactorAuthentication failed: user {0} has no MFA device.")]
    NoDevice(String),
    #[error("MultiFactorAuthentication failed with invalid MFA one time pass code.")]
    InvalidCode,
    #[error(
        "MultiFactorAuthentication failed: that code was already used (each code is accepted once)."
    )]
    Replayed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The devices a code may come from: the given serial (STS's
/// `SerialNumber`), else every device enabled for the user (a code of any
/// of them is a second factor, as at login).
pub fn mfa_devices_for(
    store: &dyn Directory,
    user: &UserName,
    serial: Option<&str>,
) -> Result<Vec<MfaDevice>, MfaFailure> {
    match serial {
        Some(serial) => {
            let device = store
                .get_mfa_device(serial)
                .map_err(|_| MfaFailure::NotYourDevice {
                    serial: serial.to_owned(),
                    user: user.to_string(),
                })?;
            if device.user.as_ref() != Some(user) || device.enable_date.is_none() {
                return Err(MfaFailure::NotYourDevice {
                    serial: serial.to_owned(),
                    user: user.to_string(),
                });
            }
            Ok(vec![device])
        }
        None => {
            let devices: Vec<MfaDevice> = store
                .list_mfa_devices(user)?
                .into_iter()
                .filter(|d| d.enable_date.is_some())
                .collect();
            match devices.is_empty() {
                true => Err(MfaFailure::NoDevice(user.to_string())),
                false => Ok(devices),
            }
        }
    }
}

/// Checks a one-time code for `user` from one of `devices` as a login would, through
/// the login's one lockout rule ([`Ledger::settle_attempt`]) and the one
/// code check ([`factors::check_code`]): decided in the transaction that
/// records it, refused while locked out (no code burnt); a wrong or
/// replayed code counts as a failure; the step is claimed in the ledger, so
/// a code works once, at a login or here, on any host sharing the store.
pub fn check_mfa_code(
    ledger: &Ledger<'_>,
    user: &UserName,
    devices: &[MfaDevice],
    code: &SecretString,
    rule: &LockoutRule,
    skew_steps: u8,
    now: DateTime<Utc>,
) -> Result<(), MfaFailure> {
    let mut why = MfaFailure::InvalidCode;
    let settled = ledger.settle_attempt(user.as_str(), rule, now, |ledger| {
        // Recovery codes are for getting back in at a login, not here.
        let factors = SecondFactors {
            devices,
            recovery: None,
        };
        Ok(
            match factors::check_code(ledger, factors, code, skew_steps, now)? {
                CodeCheck::Accepted { .. } | CodeCheck::RecoveryCode { .. } => {
                    AttemptResult::Pass { reset: false }
                }
                CodeCheck::Replayed => {
                    why = MfaFailure::Replayed;
                    AttemptResult::Fail { count: true }
                }
                CodeCheck::Wrong => AttemptResult::Fail { count: true },
            },
        )
    })?;
    match settled {
        Settled::Passed => Ok(()),
        Settled::Locked(_) => Err(MfaFailure::LockedOut(user.to_string())),
        Settled::Failed { .. } => Err(why),
    }
}
