//! Opus for symphonia: libopus (through the `opus` crate) wrapped as a symphonia `Decoder`, so
//! Ogg Opus goes through symphonia's Ogg demuxer (which reads the pre-skip and the end
//! granule, and trims them when gapless is on) like every other format.

use std::sync::Mutex;

use symphonia::core::audio::{AsAudioBufferRef, AudioBuffer, AudioBufferRef, Signal, SignalSpec};
use symphonia::core::codecs::{
    CODEC_TYPE_OPUS, CodecDescriptor, CodecParameters, Decoder, DecoderOptions, FinalizeResult,
};
use symphonia::core::errors::{Error, Result, decode_error, unsupported_error};
use symphonia::core::formats::Packet;
use symphonia::core::support_codec;

/// Opus always decodes at 48 kHz; the longest Opus packet is 120 ms.
const RATE: u32 = 48_000;
const MAX_FRAMES: usize = 5_760;

pub(crate) struct OpusDecoder {
    // `opus::Decoder` is `Send` but not `Sync`; symphonia's trait wants both.
    decoder: Mutex<opus::Decoder>,
    params: CodecParameters,
    channels: usize,
    interleaved: Vec<f32>,
    buf: AudioBuffer<f32>,
}

impl OpusDecoder {
    fn new_decoder(channels: usize, gain_q8: i32) -> Result<opus::Decoder> {
        let ch = match channels {
            1 => opus::Channels::Mono,
            2 => opus::Channels::Stereo,
            _ => return unsupported_error("opus: only mono and stereo streams are supported"),
        };
        let mut d = opus::Decoder::new(RATE, ch).map_err(|_| Error::DecodeError("opus: init"))?;
        if gain_q8 != 0 {
            d.set_gain(gain_q8)
                .map_err(|_| Error::DecodeError("opus: output gain"))?;
        }
        Ok(d)
    }

    /// The output gain of the `OpusHead` header (Q7.8 dB), which players must apply.
    fn head_gain(params: &CodecParameters) -> i32 {
        params
            .extra_data
            .as_deref()
            .filter(|h| h.len() >= 18 && h.starts_with(b"OpusHead"))
            .map_or(0, |h| i32::from(i16::from_le_bytes([h[16], h[17]])))
    }
}

impl Decoder for OpusDecoder {
    fn try_new(params: &CodecParameters, _options: &DecoderOptions) -> Result<Self> {
        let Some(layout) = params.channels else {
            return unsupported_error("opus: channel count unknown");
        };
        let channels = layout.count();
        let decoder = Self::new_decoder(channels, Self::head_gain(params))?;
        let spec = SignalSpec::new(RATE, layout);
        Ok(Self {
            decoder: Mutex::new(decoder),
            params: params.clone(),
            channels,
            interleaved: vec![0.0; MAX_FRAMES * channels],
            buf: AudioBuffer::new(MAX_FRAMES as u64, spec),
        })
    }

    fn supported_codecs() -> &'static [CodecDescriptor] {
        &[support_codec!(CODEC_TYPE_OPUS, "opus", "Opus (libopus)")]
    }

    fn reset(&mut self) {
        if let Ok(d) = self.decoder.get_mut() {
            // A failed reset leaves the old state: at worst a few ms of wrong prediction.
            let _ = d.reset_state();
        }
    }

    fn codec_params(&self) -> &CodecParameters {
        &self.params
    }

    fn decode(&mut self, packet: &Packet) -> Result<AudioBufferRef<'_>> {
        let decoder = self
            .decoder
            .get_mut()
            .map_err(|_| Error::DecodeError("opus: decoder poisoned"))?;
        let frames = match decoder.decode_float(&packet.data, &mut self.interleaved, false) {
            Ok(n) => n,
            Err(_) => return decode_error("opus: invalid packet"),
        };
        self.buf.clear();
        self.buf.render_reserved(Some(frames));
        for c in 0..self.channels {
            let chan = self.buf.chan_mut(c);
            for (i, s) in chan.iter_mut().enumerate() {
                *s = self.interleaved[i * self.channels + c];
            }
        }
        // Pre-skip at the start and the end granule's padding, as the demuxer computed them.
        self.buf
            .trim(packet.trim_start() as usize, packet.trim_end() as usize);
        Ok(self.buf.as_audio_buffer_ref())
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> AudioBufferRef<'_> {
        self.buf.as_audio_buffer_ref()
    }
}
