//! Windows install prerequisites of the VS2013 redistributable that the DRX installer chains:
//! KB2883200 on Server 2012 R2, .NET Framework 3.5.1 on Server 2008 R2.
use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::parse::windows::WindowsRelease;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let info = &evidence.windows;
    let Some((release, place)) = &info.release else {
        return;
    };
    match release {
        WindowsRelease::Server2012R2 => {
            // KB2919355 (Windows Server 2012 R2 Update, April 2014) was a cumulative rollup that
            // contains the October 2013 rollup KB2883200; media "with Update" lists only it.
            let contained = info.kb_ids.contains("KB2919355");
            if info.kb_ids.contains("KB2883200") || contained {
                return;
            }
            // Only an update list that was actually collected whole can show an absence.
            let Some(list) = &info.updates_list else {
                // Say what is missing, unless the item's own gap already says it.
                let named = |id: &str| evidence.gaps.iter().any(|g| g.id == id);
                if !info.incomplete_update_sources.is_empty()
                    && !named("systeminfo")
                    && !named("wmic-qfe")
                {
                    out.push(Raw::new(
                        "COLLECT-INCOMPLETE",
                        Some(crate::rules::model::Place::file(
                            &info.incomplete_update_sources[0],
                        )),
                        Some(format!(
                            "no whole installed-updates list: {} ends before its hotfix section ends, and no wmic qfe output; KB2883200 cannot be checked",
                            info.incomplete_update_sources.join(", ")
                        )),
                    ));
                }
                return;
            };
            out.push(Raw::new(
                "INSTALL-KB2883200-MISSING",
                Some(place.clone()),
                Some(format!(
                    "neither KB2883200 nor KB2919355 (which contains it) is in the installed updates ({list})"
                )),
            ));
        }
        WindowsRelease::Server2008R2 => {
            if let Some((false, path)) = &info.dotnet35 {
                out.push(Raw::new(
                    "INSTALL-DOTNET351-MISSING",
                    Some(place.clone()),
                    Some(format!("no NDP\\v3.5 key with Install = 1 in {path}")),
                ));
            }
        }
    }
}
