//! System: the user's own record, the scan.

use super::*;

pub(super) fn get_user(ctx: &Ctx, p: &Params) -> Answer {
    let name = p.required("username")?;
    if name.eq_ignore_ascii_case(&ctx.user.username) {
        return Payload::one("user", &SubsonicUser::from_user(ctx.user));
    }
    if !ctx.user.is_admin {
        return Err(SubsonicError::new(
            Code::NotAuthorized,
            "only an administrator can see other users",
        ));
    }
    let other = ctx
        .store
        .user_by_name(name)?
        .ok_or_else(|| SubsonicError::not_found("user"))?;
    Payload::one("user", &SubsonicUser::from_user(&other.user))
}

pub(super) fn scan_status(ctx: &Ctx) -> Answer {
    Payload::one(
        "scanStatus",
        &ScanStatusOut {
            scanning: ctx.scanner.is_running(),
            count: ctx.store.track_count()?,
        },
    )
}

pub(super) fn start_scan(ctx: &Ctx) -> Answer {
    if !ctx.user.is_admin {
        return Err(SubsonicError::new(
            Code::NotAuthorized,
            "only an administrator can start a scan",
        ));
    }
    match ctx.scanner.spawn_full() {
        Ok(()) | Err(crate::scanner::ScanError::AlreadyRunning) => {}
        Err(e) => return Err(e.into()),
    }
    scan_status(ctx)
}
