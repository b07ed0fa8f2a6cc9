//! Property tests on the entry format: valid feeds round-trip, and any single flipped bit in
//! a header, signature or payload is refused.
#![cfg(not(target_arch = "wasm32"))]

use kith_core::entry::{EntryRef, RawEntry};
use kith_core::image::{MAX_AVATAR_SIDE, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MAX_IMAGES};
use kith_core::{AuthorId, Expect, Feed, Hash, Identity, ImageKind, ImageRef, Payload, validate};
use proptest::prelude::*;

const NOW: u64 = 1_767_225_600_000;

fn payload() -> impl Strategy<Value = Payload> {
    let author = any::<[u8; 32]>().prop_map(AuthorId);
    let target =
        (any::<[u8; 32]>(), 1u64..1000, any::<[u8; 32]>()).prop_map(|(a, seq, h)| EntryRef {
            author: AuthorId(a),
            seq,
            hash: Hash(h),
        });
    let image = |max_side: u16| {
        (
            any::<[u8; 32]>(),
            1u32..=MAX_IMAGE_BYTES,
            prop_oneof![
                Just(ImageKind::Jpeg),
                Just(ImageKind::Png),
                Just(ImageKind::Webp)
            ],
            1u16..=max_side,
            1u16..=max_side,
        )
            .prop_map(|(h, len, kind, width, height)| ImageRef {
                hash: Hash(h),
                len,
                kind,
                width,
                height,
            })
    };
    prop_oneof![
        (
            ".{0,300}",
            proptest::option::of(target.clone()),
            prop::collection::vec(author.clone(), 0..4),
            prop::collection::vec(image(MAX_IMAGE_SIDE), 0..=MAX_IMAGES),
        )
            .prop_map(|(text, reply_to, mentions, images)| Payload::Post {
                text,
                reply_to,
                mentions,
                images,
            }),
        (
            ".{0,64}",
            ".{0,200}",
            proptest::option::of(image(MAX_AVATAR_SIDE).prop_map(|i| i.to_avatar()))
        )
            .prop_map(|(name, bio, avatar)| Payload::Profile { name, bio, avatar }),
        author.clone().prop_map(|author| Payload::Follow { author }),
        author.prop_map(|author| Payload::Unfollow { author }),
        (target, "[😀🎉👍❤️]{1,2}").prop_map(|(target, emoji)| Payload::Reaction { target, emoji }),
    ]
}

fn feed(seed: u8, payloads: &[(Payload, u64)]) -> Feed {
    let me = Identity::from_secret([seed; 32]);
    let mut f = Feed::new(me.author());
    let mut t = NOW - 1_000_000;
    for (p, dt) in payloads {
        t += dt;
        f.append(&me, p, t).expect("a generated payload is valid");
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_valid_feed_round_trips_encode_decode_verify(
        seed in any::<u8>(),
        payloads in prop::collection::vec((payload(), 0u64..10_000), 1..12),
    ) {
        let f = feed(seed, &payloads);
        let mut expect = Expect { author: f.author(), prev: None };
        for e in f.entries() {
            let bytes = e.encode();
            let again = validate(&bytes, &expect, NOW).expect("verifies");
            prop_assert_eq!(&again, e);
            prop_assert_eq!(again.encode(), bytes);
            expect.prev = Some(again.as_prev());
        }
    }

    #[test]
    fn any_single_flipped_bit_is_refused(
        seed in any::<u8>(),
        p in payload(),
        part in 0usize..3,
        bit in any::<usize>(),
    ) {
        let f = feed(seed, &[(Payload::post("first"), 1), (p, 1)]);
        let e = &f.entries()[1];
        let expect = Expect { author: f.author(), prev: Some(f.entries()[0].as_prev()) };
        let mut raw: RawEntry = e.raw().clone();
        let field = match part {
            0 => &mut raw.header,
            1 => &mut raw.signature,
            _ => raw.payload.as_mut().expect("payload"),
        };
        let bit = bit % (field.len() * 8);
        field[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(validate(&raw.encode(), &expect, NOW).is_err(), "flip of bit {} in part {} accepted", bit, part);
    }
}
