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
            // Only an update list that was actually collected can show an absence.
            if let Some(list) = &info.updates_list {
                if !info.kb_ids.contains("KB2883200") {
                    out.push(Raw::new(
                        "INSTALL-KB2883200-MISSING",
                        Some(place.clone()),
                        Some(format!(
                            "KB2883200 is not in the installed updates ({list})"
                        )),
                    ));
                }
            }
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
