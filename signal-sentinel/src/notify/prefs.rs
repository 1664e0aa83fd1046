use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::{DeliveryEvent, JsonDocument};
use crate::time::Timestamp;

/// Preferences that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrefsError {
    /// Stored by a newer build.
    #[error("preferences of version {0} are not supported")]
    Version(u32),
    /// Not the shape this build writes.
    #[error("stored preferences are unreadable")]
    Unreadable(#[source] serde_json::Error),
    /// Not an IANA time zone.
    #[error("unknown time zone {0:?} (use an IANA name like Europe/Berlin)")]
    TimeZone(String),
}

/// What a user wants done with one kind of message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMode {
    /// Deliver with a sound.
    #[default]
    On,
    /// Deliver without a sound.
    Silent,
    /// Do not deliver.
    Off,
}

/// What quiet hours do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietBehavior {
    /// Deliver, without a sound.
    #[default]
    Silent,
    /// Hold until they end.
    Hold,
}

/// A nightly quiet spell in the user's time zone (`22:00`–`07:00` crosses midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// When they begin.
    pub start: NaiveTime,
    /// When they end.
    pub end: NaiveTime,
    /// What they do.
    #[serde(default)]
    pub behavior: QuietBehavior,
}

/// Per event type modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventModes {
    /// A rule fired.
    pub fired: EventMode,
    /// A rule resolved.
    pub resolved: EventMode,
    /// The daily digest.
    pub digest: EventMode,
    /// Notices from Signal Sentinel.
    pub system: EventMode,
}

/// A user's notification preferences, stored as a versioned document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationPrefs {
    /// On, silent or off per event type.
    pub events: EventModes,
    /// Quiet hours, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// The time of the daily digest (none: no digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_at: Option<NaiveTime>,
    /// The IANA time zone of quiet hours and the digest.
    pub time_zone: String,
    /// Whether the summary (the model's or the template's) is added to alert messages and to
    /// the digest.
    pub summaries: bool,
    /// Quiet until this instant, whatever the hours (`/mute 3h`): messages are held or
    /// silent as the quiet hours' behaviour says (held when there are no quiet hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<Timestamp>,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        Self {
            events: EventModes::default(),
            quiet_hours: None,
            digest_at: None,
            time_zone: "America/New_York".to_owned(),
            summaries: true,
            muted_until: None,
        }
    }
}

/// What to do with a delivery now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Send it (silently or not).
    Send {
        /// Without a sound.
        silent: bool,
    },
    /// Keep it until this instant (quiet hours).
    Hold(Timestamp),
    /// Do not send it.
    Skip,
}

/// A change to some preferences; `None` leaves a setting as it is. What `invest notifications
/// prefs --fired silent …` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefsPatch {
    /// Mode of fired alerts.
    pub fired: Option<EventMode>,
    /// Mode of resolved alerts.
    pub resolved: Option<EventMode>,
    /// Mode of the daily digest.
    pub digest: Option<EventMode>,
    /// Mode of system messages.
    pub system: Option<EventMode>,
    /// Quiet hours as start and end (`Some(None)` turns them off); their behaviour is kept.
    pub quiet_hours: Option<Option<(NaiveTime, NaiveTime)>>,
    /// What quiet hours do (needs quiet hours, set before or in the same patch).
    pub quiet_mode: Option<QuietBehavior>,
    /// The digest time (`Some(None)` turns the digest off).
    pub digest_at: Option<Option<NaiveTime>>,
    /// The IANA time zone.
    pub time_zone: Option<String>,
    /// Whether summaries are added.
    pub summaries: Option<bool>,
    /// Mute until (`Some(None)` unmutes).
    pub muted_until: Option<Option<Timestamp>>,
}

/// Why a patch cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// `quiet_mode` without quiet hours.
    #[error("needs quiet hours (set them first)")]
    QuietModeWithoutHours,
    /// Not an IANA time zone.
    #[error("unknown time zone {0:?} (use an IANA name like Europe/Berlin)")]
    TimeZone(String),
}

impl PatchError {
    /// The setting at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::QuietModeWithoutHours => "quiet_mode",
            Self::TimeZone(_) => "time_zone",
        }
    }
}

impl NotificationPrefs {
    /// Reads stored preferences; an empty document gives the defaults.
    ///
    /// # Errors
    /// [`PrefsError`] for an unknown field, a newer version or an unknown time zone.
    pub fn from_document(doc: &JsonDocument) -> Result<Self, PrefsError> {
        if doc.version() != 1 {
            return Err(PrefsError::Version(doc.version()));
        }
        let prefs: Self = serde_json::from_value(serde_json::Value::Object(doc.body().clone()))
            .map_err(PrefsError::Unreadable)?;
        prefs.zone()?;
        Ok(prefs)
    }

    /// These preferences with `patch` applied.
    ///
    /// # Errors
    /// [`PatchError`] for quiet-hours behaviour without quiet hours, or an unknown zone.
    pub fn patched(mut self, patch: PrefsPatch) -> Result<Self, PatchError> {
        let modes = [
            (patch.fired, &mut self.events.fired),
            (patch.resolved, &mut self.events.resolved),
            (patch.digest, &mut self.events.digest),
            (patch.system, &mut self.events.system),
        ];
        for (mode, slot) in modes {
            if let Some(mode) = mode {
                *slot = mode;
            }
        }
        if let Some(hours) = patch.quiet_hours {
            let behavior = self.quiet_hours.map(|h| h.behavior).unwrap_or_default();
            self.quiet_hours = hours.map(|(start, end)| QuietHours {
                start,
                end,
                behavior,
            });
        }
        if let Some(behavior) = patch.quiet_mode {
            self.quiet_hours
                .as_mut()
                .ok_or(PatchError::QuietModeWithoutHours)?
                .behavior = behavior;
        }
        if let Some(at) = patch.digest_at {
            self.digest_at = at;
        }
        if let Some(summaries) = patch.summaries {
            self.summaries = summaries;
        }
        if let Some(until) = patch.muted_until {
            self.muted_until = until;
        }
        if let Some(zone) = patch.time_zone {
            if zone.parse::<Tz>().is_err() {
                return Err(PatchError::TimeZone(zone));
            }
            self.time_zone = zone;
        }
        Ok(self)
    }

    /// The stored form.
    pub fn to_document(&self) -> JsonDocument {
        JsonDocument::new(1, serde_json::to_value(self).unwrap_or_default())
            .unwrap_or_else(|_| JsonDocument::empty())
    }

    /// The time zone.
    ///
    /// # Errors
    /// [`PrefsError::TimeZone`] when it is not an IANA name.
    pub fn zone(&self) -> Result<Tz, PrefsError> {
        self.time_zone
            .parse::<Tz>()
            .map_err(|_| PrefsError::TimeZone(self.time_zone.clone()))
    }

    /// What to do with a message of `event` at `now`. Test messages always go out, with a
    /// sound.
    pub fn plan(&self, event: DeliveryEvent, now: Timestamp) -> Plan {
        let mode = match event {
            DeliveryEvent::Fired => self.events.fired,
            DeliveryEvent::Resolved => self.events.resolved,
            DeliveryEvent::Digest => self.events.digest,
            DeliveryEvent::System => self.events.system,
            _ => return Plan::Send { silent: false },
        };
        if mode == EventMode::Off {
            return Plan::Skip;
        }
        let silent = mode == EventMode::Silent;
        if let Some(until) = self.muted_until.filter(|until| now < *until) {
            return match self.quiet_hours.map_or(QuietBehavior::Hold, |q| q.behavior) {
                QuietBehavior::Silent => Plan::Send { silent: true },
                QuietBehavior::Hold => Plan::Hold(until),
            };
        }
        let (Some(quiet), Ok(zone)) = (self.quiet_hours, self.zone()) else {
            return Plan::Send { silent };
        };
        let local = now.with_timezone(&zone);
        let time = local.time();
        let inside = if quiet.start <= quiet.end {
            time >= quiet.start && time < quiet.end
        } else {
            time >= quiet.start || time < quiet.end
        };
        if !inside {
            return Plan::Send { silent };
        }
        match quiet.behavior {
            QuietBehavior::Silent => Plan::Send { silent: true },
            QuietBehavior::Hold => {
                let mut day = local.date_naive();
                if time >= quiet.end {
                    day = day.succ_opt().unwrap_or(day);
                }
                let end = zone
                    .from_local_datetime(&day.and_time(quiet.end))
                    .earliest()
                    .map_or(now, |t| t.to_utc());
                Plan::Hold(end)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn modes_and_quiet_hours_across_midnight() {
        let mut prefs = NotificationPrefs {
            time_zone: "Europe/Berlin".into(),
            quiet_hours: Some(QuietHours {
                start: t(22, 0),
                end: t(7, 0),
                behavior: QuietBehavior::Hold,
            }),
            ..NotificationPrefs::default()
        };
        prefs.events.resolved = EventMode::Off;
        prefs.events.digest = EventMode::Silent;
        let noon = Utc.with_ymd_and_hms(2026, 11, 28, 11, 0, 0).unwrap(); // 12:00 Berlin
        assert_eq!(
            prefs.plan(DeliveryEvent::Fired, noon),
            Plan::Send { silent: false }
        );
        assert_eq!(
            prefs.plan(DeliveryEvent::Digest, noon),
            Plan::Send { silent: true }
        );
        assert_eq!(prefs.plan(DeliveryEvent::Resolved, noon), Plan::Skip);
        let late = Utc.with_ymd_and_hms(2026, 11, 28, 22, 30, 0).unwrap(); // 23:30 Berlin
        let morning = Utc.with_ymd_and_hms(2026, 11, 29, 6, 0, 0).unwrap(); // 07:00 Berlin next day
        assert_eq!(prefs.plan(DeliveryEvent::Fired, late), Plan::Hold(morning));
        let early = Utc.with_ymd_and_hms(2026, 11, 29, 4, 0, 0).unwrap(); // 05:00 Berlin
        assert_eq!(prefs.plan(DeliveryEvent::Fired, early), Plan::Hold(morning));
        assert_eq!(
            prefs.plan(DeliveryEvent::Test, late),
            Plan::Send { silent: false }
        );
        prefs.quiet_hours = Some(QuietHours {
            start: t(22, 0),
            end: t(7, 0),
            behavior: QuietBehavior::Silent,
        });
        assert_eq!(
            prefs.plan(DeliveryEvent::Fired, late),
            Plan::Send { silent: true }
        );
    }

    #[test]
    fn stored_form_round_trips_and_refuses_unknown_zones() {
        let prefs = NotificationPrefs {
            digest_at: Some(t(18, 0)),
            ..NotificationPrefs::default()
        };
        assert_eq!(
            NotificationPrefs::from_document(&prefs.to_document()).unwrap(),
            prefs
        );
        assert_eq!(
            NotificationPrefs::from_document(&JsonDocument::empty()).unwrap(),
            NotificationPrefs::default()
        );
        let bad = JsonDocument::new(1, serde_json::json!({"time_zone": "Mars/Olympus"})).unwrap();
        assert!(
            NotificationPrefs::from_document(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown time zone")
        );
    }
}
